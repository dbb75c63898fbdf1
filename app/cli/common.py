"""What every command shares: one-line errors, the account lookup, logging to stderr."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

from app.safe_text import strip_control
from app.settings import value

logger = logging.getLogger(__name__)

NO_SCHEMA = "the database has no tables yet: run 'flask --app app db upgrade' first"


def configure_logging(verbose: bool) -> None:
    """Logging goes to stderr; quiet by default so expected failures stay one line."""
    level_name = (value("GRADESYNC_LOG_LEVEL") or ("INFO" if verbose else "ERROR")).upper()
    level = logging.getLevelNamesMapping().get(level_name, logging.ERROR)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def one_line(message: object) -> str:
    """A message as one plain line (terminals without UTF-8 get the arrows as '>').

    Control and format characters go (:func:`app.safe_text.strip_control`): a course name
    stored with a bidi override must not print reversed.
    """
    text = " ".join(strip_control(message).split())
    return text.replace("→", ">").replace("…", "...")


class CLIError(click.ClickException):
    """An expected failure: printed as ``Error: <message>`` on stderr, exit status 1."""

    def __init__(self, message: object) -> None:
        super().__init__(one_line(message))


def get_user(email: str) -> Any:
    from app.accounts import find_user

    user = find_user(email)
    if user is None:
        raise CLIError(
            f"no account for {email!r}: create one with "
            "'flask --app app user create EMAIL --password PASSWORD'"
        )
    return user


def explain(exc: BaseException) -> str:
    """One line saying what went wrong with the database and what to do about it."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    lowered = text.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return NO_SCHEMA
    if "unable to open database file" in lowered:
        return ("cannot open the SQLite database: check DATABASE_URL (sqlite:///instance/NAME.sqlite3"
                " is read from the repository root, and its folder must exist)")
    if "connection refused" in lowered or "could not connect" in lowered or (
        "connection failed" in lowered
    ):
        return ("cannot reach the database server: check DATABASE_URL's host and port, and that "
                "the server is running")
    if "password authentication failed" in lowered or "role" in lowered and "not exist" in lowered:
        return "the database refused the login: check the user and password in DATABASE_URL"
    if "database" in lowered and "does not exist" in lowered:
        return ("the database in DATABASE_URL does not exist: create it, then run "
                "'flask --app app db upgrade'")
    return (f"{type(exc).__name__}: {text[:200]} (run with GRADESYNC_LOG_LEVEL=DEBUG to see "
            "where)")


def require_schema() -> None:
    """Stop with the one-line fix when ``db upgrade`` has not been run (for commands, like the
    scheduler, that otherwise log and carry on)."""
    from sqlalchemy import inspect

    from app.extensions import db

    if not inspect(db.engine).has_table("users"):
        raise CLIError(NO_SCHEMA)


def guard(command: click.Command) -> click.Command:
    """Turn any unexpected error of ``command`` (and, for a group, of its subcommands) into one
    ``Error: ...`` line naming the fix, exit status 1; the traceback goes to the debug log."""
    original: Callable[[click.Context], Any] = command.invoke

    def invoke(ctx: click.Context) -> Any:
        try:
            return original(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # the last line of defence: never a traceback
            logger.debug("command failed", exc_info=True)
            raise CLIError(explain(exc)) from None

    command.invoke = invoke  # type: ignore[method-assign]
    return command
