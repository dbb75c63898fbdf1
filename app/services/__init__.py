"""Services: talking to Canvas and turning what it says into rows.

- ``canvas_api_service``: the Canvas REST client (endpoints, pagination; errors re-exported)
- ``canvas_transport``: one GET with retries under the token's limiter, and the counters
- ``canvas_http``: the pooled session, auth, back-off and ``ClientStats``
- ``canvas_errors``: the exception tree and the messages people see
- ``throttle``: the per-token limiter that keeps Canvas's leaky bucket from overflowing
- ``canvas_sync_service`` and friends: the sync built on the client
"""
