"""Sign-in and registration forms (Flask-WTF, so every POST carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from app.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AccountError,
    normalize_email,
)

MAX_EMAIL_LENGTH = 254


class LoginForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter your email address."),
            Length(max=MAX_EMAIL_LENGTH, message="That email address is too long."),
        ],
        render_kw={"autocomplete": "username", "maxlength": MAX_EMAIL_LENGTH},
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Enter your password."),
            Length(max=MAX_PASSWORD_LENGTH, message="That password is too long."),
        ],
        render_kw={"autocomplete": "current-password", "maxlength": MAX_PASSWORD_LENGTH},
    )
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()  # where to go after signing in; checked by safe_next_url()
    submit = SubmitField("Log in")


class RegisterForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter your email address."),
            Length(max=MAX_EMAIL_LENGTH, message="That email address is too long."),
        ],
        render_kw={"autocomplete": "email", "maxlength": MAX_EMAIL_LENGTH},
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Choose a password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"The password must be {MIN_PASSWORD_LENGTH} to "
                f"{MAX_PASSWORD_LENGTH} characters long.",
            ),
        ],
        render_kw={
            "autocomplete": "new-password",
            "minlength": MIN_PASSWORD_LENGTH,
            "maxlength": MAX_PASSWORD_LENGTH,
        },
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo("password", message="The two passwords are not the same."),
        ],
        render_kw={"autocomplete": "new-password", "maxlength": MAX_PASSWORD_LENGTH},
    )
    submit = SubmitField("Create account")

    def validate_email(self, field: EmailField) -> None:
        """The address's own rules, checked with the other fields: every error in one round.

        Whether an account exists is not checked here: the view does that after the
        per-address limit, and answers in words that do not say so.
        """
        if field.errors:  # already too long: one message is enough
            return
        try:
            normalize_email(field.data)
        except AccountError as exc:
            message = str(exc).strip()
            raise ValidationError(message[:1].upper() + message[1:] + ".") from exc
