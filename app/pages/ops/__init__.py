"""The operator's endpoints and the student's account pages (issue 23).

``health.py``: ``/healthz`` and ``/readyz``; ``account.py``: "Download my data" and "Delete my
account" (Settings); ``admin.py``: the operator's view for admin accounts; ``metrics.py``:
``/metrics`` behind a token when metrics are on; ``requests.py``: the request id and one log line
per request.
"""

from app.pages.ops import account, admin, health, metrics, requests  # noqa: F401 (join bp)
from app.pages.ops.blueprint import bp

__all__ = ["bp"]
