"""``/metrics`` (placeholder until written)."""
