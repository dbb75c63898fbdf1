"""The ``user`` and ``canvas`` command groups: how operators and outside checks drive the app.

    flask --app app user create EMAIL --password PASSWORD
    flask --app app canvas connect EMAIL --url URL --token TOKEN
    flask --app app canvas test EMAIL
    flask --app app canvas disconnect EMAIL
    flask --app app canvas sync EMAIL [--incremental] [--json]
    flask --app app canvas sync --all [--incremental] [--json]
    flask --app app scheduler run [--once]
    flask --app app changes EMAIL [--since ISO8601] [--json]
    flask --app app grades EMAIL [--json]
    flask --app app user delete EMAIL [--yes]
    flask --app app user export EMAIL [--csv]
    flask --app app worker-check
    flask --app app retention prune
    flask --app app gpa EMAIL [--json]

Expected failures (unknown email, bad URL, rejected token, Canvas down, a sync already
running) print one ``Error: ...`` line on stderr and exit 1; usage mistakes exit 2.

Layout: :mod:`app.cli.users`, :mod:`app.cli.canvas` and :mod:`app.cli.changes` (the commands),
:mod:`app.cli.sync` (the sync command's work, imported only when it runs) and
:mod:`app.cli.common`.
"""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    """Add the ``user``, ``canvas`` and ``scheduler`` groups, ``changes``, ``grades``, ``gpa``."""
    from app.cli.canvas import canvas_group
    from app.cli.changes import changes_command
    from app.cli.gpa import gpa_command
    from app.cli.grades import grades_command
    from app.cli.ops import (
        retention_group,
        user_delete_command,
        user_export_command,
        worker_check_command,
    )
    from app.cli.scheduler import scheduler_group
    from app.cli.users import user_group

    app.cli.add_command(user_group)
    app.cli.add_command(canvas_group)
    app.cli.add_command(scheduler_group)
    app.cli.add_command(changes_command)
    app.cli.add_command(grades_command)
    app.cli.add_command(worker_check_command)
    app.cli.add_command(retention_group)
    user_group.add_command(user_delete_command)
    user_group.add_command(user_export_command)
    app.cli.add_command(gpa_command)
    from app.cli.common import guard

    # Every command, Flask-Migrate's "db" included: an error is one line naming the fix.
    for command in app.cli.commands.values():
        guard(command)
