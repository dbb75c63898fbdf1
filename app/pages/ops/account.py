"""The student's own account: "Delete my account" (Settings). "Download my data" is the
export in Settings (``app/pages/export``)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from app.ops.erase import DeletionRefused, delete_account
from app.pages.ops.blueprint import bp


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Delete my account and all my data")


@bp.route("/settings/account/delete", methods=["GET", "POST"])
@login_required
def delete_my_account() -> Any:
    form = DeleteAccountForm()
    error = None
    if form.validate_on_submit():
        if not current_user.check_password(form.password.data or ""):
            error = "That is not your password: enter the password you log in with."
        else:
            try:
                report = delete_account(current_user._get_current_object())
            except DeletionRefused as exc:
                error = str(exc).capitalize() + "."
            else:
                session.clear()
                logout_user()
                flash(f"Your account and {report.total} record(s) of your data were deleted; "
                      f"{report.canvas_logouts} Canvas sign-in(s) were revoked.", "info")
                return redirect(url_for("auth.login"))
    status = 400 if error or form.errors else 200
    return render_template("ops/delete_account.html", form=form, error=error), status
