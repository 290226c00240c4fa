"""Hot paths that sit in the traffic: the built-in L7 router (and, later, the L4 fault proxy)."""
