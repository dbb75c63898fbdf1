"""The Canvas connection form. The token is a password input and is never rendered back."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from app.models.user import SYNC_INTERVAL_CHOICES
from app.security import MAX_TOKEN_LENGTH, MAX_URL_LENGTH
from app.timezones import zone_names


class CanvasForm(FlaskForm):
    url = StringField(
        "Canvas address",
        validators=[
            InputRequired("Enter the address of your Canvas, e.g. https://school.instructure.com."),
            Length(
                max=MAX_URL_LENGTH,
                message=f"The address is too long (at most {MAX_URL_LENGTH} characters).",
            ),
        ],
        render_kw={
            "inputmode": "url",
            "autocomplete": "url",
            "spellcheck": "false",
            "placeholder": "https://school.instructure.com",
            "maxlength": MAX_URL_LENGTH,
        },
    )
    token = PasswordField(
        "Access token",
        validators=[
            InputRequired("Paste an access token from Canvas."),
            Length(
                max=MAX_TOKEN_LENGTH,
                message=f"That is too long for a token (at most {MAX_TOKEN_LENGTH} characters).",
            ),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": MAX_TOKEN_LENGTH},
    )
    submit = SubmitField("Save and connect")


class TestConnectionForm(FlaskForm):
    submit = SubmitField("Test connection")


class DisconnectForm(FlaskForm):
    submit = SubmitField("Disconnect and delete the token")


class ScheduleForm(FlaskForm):
    interval = SelectField(
        "Sync automatically",
        choices=[SelectChoice(str(minutes), label) for minutes, label in SYNC_INTERVAL_CHOICES],
        coerce=int,
        validate_choice=True,
    )
    submit = SubmitField("Save")


class CalendarFeedForm(FlaskForm):
    submit = SubmitField("Create a calendar address")


class RevokeCalendarFeedForm(FlaskForm):
    submit = SubmitField("Turn the calendar feed off")


def _region(zone: str) -> str:
    return zone.split("/")[0] if "/" in zone else "Other"


class TimeZoneForm(FlaskForm):
    """The zone every date is shown in; ``app.accounts.set_time_zone`` checks the value."""

    time_zone = SelectField(
        "Time zone",
        # Grouped by region ("America", "Europe", ...; "Other" last): some 600 names.
        choices=[SelectChoice("", "Choose your time zone"), *(
            SelectChoice(name, optgroup=_region(name))
            for name in sorted(zone_names(), key=lambda name: (_region(name) == "Other",
                                                              _region(name), name))
        )],
        validate_choice=False,
    )
    save_zone = SubmitField("Save time zone")
