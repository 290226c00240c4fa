"""Wire-level clients used by the check kinds: small, fast, and timed phase by phase."""
