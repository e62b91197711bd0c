"""What each function does, written against the adapters (no handler plumbing here)."""
