"""The command line: parse, call a pillar, render. No logic of its own."""
