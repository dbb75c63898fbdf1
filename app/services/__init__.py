"""Services: the Canvas HTTP client (``canvas_api_service``) and the sync built on it."""
