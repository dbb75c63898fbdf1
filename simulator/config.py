"""Run-time knobs of the Canvas simulator (latency, throttling, faults)."""

from __future__ import annotations

from dataclasses import dataclass

THROTTLE_STATUSES = (403, 429)
UNAUTHORIZED_STATUSES = (401, 403)


@dataclass
class SimulatorConfig:
    """Behaviour of a :class:`~simulator.CanvasSimulator`.

    The object is read on every request, so tests may flip fields while the server runs.
    Defaults match the open-source Canvas code (CANVAS_API.md §2, §4).
    """

    latency: float = 0.0  # seconds added to every response
    connect_cost: float = 0.0  # extra seconds on the first request of a new TCP connection
    hwm: float = 600.0  # leaky bucket per token
    maximum: float = 800.0
    outflow: float = 10.0  # units leaked per second
    up_front_cost: float = 50.0
    request_cost: float = 0.1  # x-request-cost of a normal request (deterministic)
    # Plus this per object rendered: Canvas charges CPU time plus DB time (canvas-lms
    # app/middleware/request_throttle.rb RequestThrottle#calculate_cost), which grows with the
    # rows loaded and the JSON built, so a big gradebook costs more than a small one.
    item_cost: float = 0.002
    throttling: bool = True
    throttle_status: int = 403  # 403 legacy, 429 hosted Canvas since Oct 2025
    unauthorized_status: int = 401  # 401 legacy, 403 with api_auth_error_updates
    fault_5xx_rate: float = 0.0  # share of requests answered 500/502/503/504
    fault_drop_rate: float = 0.0  # share of requests whose connection is closed, no response
    slow_rate: float = 0.0  # share of requests delayed by slow_seconds
    slow_seconds: float = 0.0
    seed: int = 0  # faults are drawn from random.Random(seed)
    # A hostile server (simulator/hostile.py); 0 = off.
    hostile_last_page: int = 0  # every numbered list claims rel="last" is this page
    hostile_gzip_bytes: int = 0  # every API answer is gzip that inflates to this many bytes
    hostile_endless_gradebook: int = 0  # gradebook lists never end: this many junk items a page

    def __post_init__(self) -> None:
        if self.throttle_status not in THROTTLE_STATUSES:
            raise ValueError(f"throttle_status must be one of {THROTTLE_STATUSES}")
        if self.unauthorized_status not in UNAUTHORIZED_STATUSES:
            raise ValueError(f"unauthorized_status must be one of {UNAUTHORIZED_STATUSES}")
