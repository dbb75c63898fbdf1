"""Run a standalone Canvas simulator: ``python -m simulator --token demo --port 8999``."""

from __future__ import annotations

import argparse
import logging
import threading

from simulator.config import SimulatorConfig
from simulator.datasets import PRESETS
from simulator.server import CanvasSimulator

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a simulated Canvas LMS API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--token", action="append", default=None,
                        help="access token of a student (repeatable; default: demo-token)")
    parser.add_argument("--preset", choices=PRESETS, default="freshman")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--throttle-status", type=int, choices=(403, 429), default=403)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = SimulatorConfig(latency=args.latency, throttle_status=args.throttle_status)
    simulator = CanvasSimulator(config, host=args.host, port=args.port).start()
    for index, token in enumerate(args.token or ["demo-token"]):
        student = simulator.add_student(token, preset=args.preset, seed=args.seed + index)
        logger.info("student %s (%s): %d courses", student.name, args.preset,
                    len(student.course_ids()))
    logger.info("serving %s - Ctrl+C to stop", simulator.base_url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
