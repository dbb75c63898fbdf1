"""What every command shares: one-line errors, the account lookup, logging to stderr."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from app.safe_text import strip_control


def configure_logging(verbose: bool) -> None:
    """Logging goes to stderr; quiet by default so expected failures stay one line."""
    level_name = os.environ.get("GRADESYNC_LOG_LEVEL", "INFO" if verbose else "ERROR").upper()
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
