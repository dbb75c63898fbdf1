"""The operator's view (placeholder until written)."""
