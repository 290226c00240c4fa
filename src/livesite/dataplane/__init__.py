"""Hot paths between clients and services: the L7 router and the L4 fault proxy."""
