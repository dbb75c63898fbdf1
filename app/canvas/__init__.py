"""The Canvas REST client: endpoints, transport, errors and the per-token rate limiter."""
