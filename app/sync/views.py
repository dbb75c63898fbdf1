"""Views of this blueprint (to be written)."""
