"""The sync engine: plan, parse, write and report progress."""
