"""``flask user``: manage GradeSync accounts."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import CLIError, configure_logging


@click.group("user", cls=AppGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
def user_group(verbose: bool) -> None:
    """Manage GradeSync accounts."""
    configure_logging(verbose)


@user_group.command("create")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (asked for when omitted, so it stays out of shell history).",
)
@click.option("--admin", is_flag=True, help="An operator: may open the operator's view (/admin).")
def user_create(email: str, password: str, admin: bool = False) -> None:
    """Create an account for EMAIL."""
    from sqlalchemy.exc import IntegrityError

    from app.accounts import AccountError, create_user
    from app.extensions import db

    try:
        user = create_user(email, password)
    except AccountError as exc:
        raise CLIError(exc) from None
    except IntegrityError:
        db.session.rollback()
        raise CLIError(f"an account for {email} already exists") from None
    if admin:
        user.is_admin = True
        db.session.commit()
    click.echo(f"Created {'admin ' if admin else ''}user {user.email} (id {user.id}).")
