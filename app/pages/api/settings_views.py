"""``/settings/api-tokens``: the student creates and revokes personal API tokens.

The Settings page shows the section (``settings/_api_tokens.html``, which reads the list
through the ``api_tokens_of_current_user`` template helper registered here). A new token is
rendered once on a page of its own, never redirected or flashed (the session cookie is
readable), and never shown again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.models import ApiToken
from app.pages.api import tokens
from app.pages.common import get_owned_or_404
from app.pages.outward import public_url_for

settings_bp = Blueprint("api_tokens", __name__, url_prefix="/settings/api-tokens")
SECTION = "#api-tokens"


@settings_bp.app_template_global("api_tokens_of_current_user")
def api_tokens_of_current_user() -> list[ApiToken]:
    """The signed-in student's working tokens, for the Settings section."""
    if not current_user.is_authenticated:
        return []
    return tokens.active_tokens(current_user.id)


@settings_bp.post("")
@login_required
def create() -> Any:
    try:
        row, token = tokens.create_token(current_user, request.form.get("name", "")[:500])
    except tokens.TokenNameError as exc:
        flash(str(exc), "error")
        return redirect(url_for("settings.index") + SECTION)
    return render_template("settings/api_token_created.html", row=row, token=token,
                           example_url=public_url_for("api.grades"))


@settings_bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Any:
    get_owned_or_404(ApiToken, token_id)  # another student's token: 404, as for every row
    row = tokens.revoke_token(current_user.id, token_id)
    if row is None:
        flash("That token was already revoked.", "error")
    else:
        flash(f"Revoked the token \"{row.name}\" ({row.prefix}…): it no longer works.", "info")
    return redirect(url_for("settings.index") + SECTION)
