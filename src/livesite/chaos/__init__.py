"""Chaos engineering: experiments with a steady state, faults held as leases, a kill switch, the monkey."""
