"""Register, log in and log out.

Wrong credentials get one message whether or not the email has an account, and the slow-down
(``app.pages.auth.throttle``) treats both the same, so the login form cannot probe emails.
Registration is limited per client address and refuses a taken email without naming it.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import AccountError, EmailTaken, create_user, find_user, normalize_email
from app.extensions import db
from app.pages.auth import devices, sessions, throttle
from app.pages.auth.forms import LoginForm, RegisterForm
from app.pages.common import as_sentence, home_url, safe_next_url

bp = Blueprint("auth", __name__)

logger = logging.getLogger(__name__)

BAD_CREDENTIALS = "The email or password is incorrect."
# Registration cannot hide whether an email has an account (there is no mail to send a link
# to instead), so it says so without naming the address and is limited per client address
# (throttle.admit_registration), which makes probing many emails slow.
CANNOT_REGISTER = (
    "This email address cannot be used to create an account. "
    "If you already have an account, log in instead."
)
TOO_MANY_REGISTRATIONS = (
    "Too many new accounts were requested from your network. Try again in an hour."
)


@cache
def _dummy_hash() -> str:
    """A hash to check against when the email has no account, so both paths take as long."""
    return generate_password_hash("not-a-real-password-just-for-timing")


def _drop_oversized(form: FlaskForm) -> None:
    """Do not echo huge or rejected input back into the page."""
    for f in form:
        limit = next((v.max for v in f.validators if getattr(v, "max", -1) > 0), None)
        if isinstance(f.data, str) and limit and len(f.data) > limit:
            f.data = ""


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    if current_user.is_authenticated:
        return redirect(home_url())
    form = RegisterForm()
    if not form.validate_on_submit():
        _drop_oversized(form)
        status = 400 if request.method == "POST" else 200
        return render_template("auth/register.html", form=form), status
    wait = throttle.admit_registration(request.remote_addr)
    if wait:
        body = render_template("auth/register.html", form=form, error=TOO_MANY_REGISTRATIONS)
        return body, 429, {"Retry-After": str(wait)}
    try:
        user = create_user(form.email.data, form.password.data)
    except EmailTaken:
        form.email.errors.append(CANNOT_REGISTER)
        return render_template("auth/register.html", form=form), 400
    except AccountError as exc:
        form.email.errors.append(as_sentence(str(exc)))
        return render_template("auth/register.html", form=form), 400
    except IntegrityError:
        # Two registrations for one email raced; the unique index decided.
        db.session.rollback()
        form.email.errors.append(CANNOT_REGISTER)
        return render_template("auth/register.html", form=form), 400
    session.clear()
    login_user(user)
    logger.info("registered user %s", user.id)
    flash("Welcome to GradeSync! Connect your Canvas account to fetch your grades.", "success")
    return redirect(url_for("settings.index"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = safe_next_url(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or home_url())
    form = LoginForm()
    if request.method == "GET":
        form.next.data = next_url or ""
        return render_template("auth/login.html", form=form)
    if not form.validate_on_submit():
        _drop_oversized(form)
        form.next.data = next_url or ""
        return render_template("auth/login.html", form=form), 400
    form.next.data = next_url or ""
    try:
        email = normalize_email(form.email.data)
    except AccountError as exc:
        form.email.errors.append(as_sentence(str(exc)))
        return render_template("auth/login.html", form=form), 400

    user = find_user(email)
    address = request.remote_addr
    cookie = request.cookies.get(devices.COOKIE)
    device = devices.known_device(cookie, user)  # signed in here before: passes the lock
    wait = throttle.admit_login(user, email, address, device)
    if wait:
        return _too_many(form, wait)
    password = form.password.data
    if user is not None and user.check_password(password):
        throttle.record_success(user, address, device)
        session.clear()  # a fresh session on sign-in: nothing carried over from before
        login_user(user, remember=bool(form.remember.data))
        logger.info("user %s signed in", user.id)
        response = redirect(next_url or home_url())
        devices.remember_device(response, user, cookie)
        return response
    if user is None:
        check_password_hash(_dummy_hash(), password)
    # The attempt was counted before the check; a wrong password just keeps that count.
    logger.info("failed sign-in (%s)", "known account" if user else "no account")
    wait = throttle.seconds_locked(user, email, address, device)
    if wait:
        return _too_many(form, wait)
    return render_template("auth/login.html", form=form, error=BAD_CREDENTIALS), 401


def _too_many(form: LoginForm, wait: int) -> Any:
    message = (
        "Too many failed sign-in attempts for this email address. "
        f"Wait {_wait_text(wait)} and try again."
    )
    body = render_template("auth/login.html", form=form, error=message)
    return body, 429, {"Retry-After": str(wait)}


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    # CSRF: CSRFProtect checks every POST, this one included (no cross-site logouts).
    if current_user.is_authenticated:
        # "Log out" means everywhere: every session and remember cookie of this user ends.
        sessions.end_all_sessions(current_user.id)
    # Clear first: logout_user() then marks the remember cookie for deletion in the new
    # session (clearing afterwards would drop that mark and leave the cookie in the browser).
    session.clear()
    logout_user()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
