"""A faithful Canvas LMS simulator: a real threaded HTTP/1.1 server for tests, benchmark, demo.

CONTRACT (other modules rely on exactly these names; see docs/INTERFACES.md):

    from simulator import CanvasSimulator, SimulatorConfig
    with CanvasSimulator(SimulatorConfig(latency=0.04)) as sim:   # starts on 127.0.0.1:0
        student = sim.add_student("token-abc", preset="freshman", seed=0)
        sim.base_url          # "http://127.0.0.1:PORT"
        student.expected()    # canonical view of what the student can see (for assertions)
        student.grade(course_id, assignment_id, 17.5)              # mutations between syncs
        sim.stats.requests, sim.stats.throttled, sim.stats.max_in_flight, ...

Modules: ``server`` (the request pipeline: auth, bucket, latency, faults), ``transport``
(HTTP/1.1 server and handler), ``api`` (endpoints), ``lists`` (which list shows a course or
an enrollment: canvas-lms's rules), ``render`` (Canvas JSON), ``pagination``
(per_page, numbered and bookmark pages, link header), ``bucket`` (leaky bucket), ``stats``,
``student`` (mutations and the ``expected()`` oracle), ``datasets`` + ``catalog`` (presets),
``model`` (the teacher's truth), ``scoring`` (Canvas's course totals).
Standalone: ``python -m simulator --token demo --port 8999``.
"""

from simulator.config import SimulatorConfig  # noqa: F401
from simulator.server import CanvasSimulator  # noqa: F401

__all__ = ["CanvasSimulator", "SimulatorConfig"]
