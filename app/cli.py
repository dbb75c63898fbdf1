"""The ``user`` and ``canvas`` command groups (to be written)."""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    pass
