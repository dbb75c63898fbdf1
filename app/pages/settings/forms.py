"""The Canvas connection forms. The token is a password input and is never rendered back."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

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
    label = StringField(
        "Name (optional)",
        validators=[Optional(), Length(max=100, message="Use at most 100 characters.")],
        render_kw={"maxlength": 100, "placeholder": "State U"},
    )
    expires_in_days = IntegerField(
        "Days until the token expires (optional)",
        validators=[
            Optional(),
            NumberRange(0, 3650, message="Enter a number of days from 0 to 3650."),
        ],
        render_kw={"inputmode": "numeric", "min": 0, "max": 3650},
    )
    submit = SubmitField("Save and connect")


class RenameForm(FlaskForm):
    label = StringField(
        "Name",
        validators=[Length(max=100, message="Use at most 100 characters.")],
        render_kw={"maxlength": 100},
    )
    submit = SubmitField("Rename")


class RemoveForm(FlaskForm):
    submit = SubmitField("Remove this Canvas and its grades")


class TestConnectionForm(FlaskForm):
    submit = SubmitField("Test connection")


class DisconnectForm(FlaskForm):
    submit = SubmitField("Disconnect and delete the token")


class OAuthStartForm(FlaskForm):
    url = StringField(
        "Canvas address",
        validators=[InputRequired("Enter the address of your Canvas.")],
        render_kw={"inputmode": "url", "maxlength": MAX_URL_LENGTH},
    )
    submit = SubmitField("Connect with Canvas")


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


_HOURS = [SelectChoice("", "Off"), *(SelectChoice(str(h), f"{h:02d}:00") for h in range(24))]


def _hour(value: object) -> int | None:
    return None if value in (None, "", "None") else int(str(value))


class AlertsForm(FlaskForm):
    """What to be told about and where (``app.alerts.save_settings`` checks the webhook)."""

    on_grade = BooleanField("A grade is posted or changed")
    on_course_grade = BooleanField("A course grade falls below my target or its letter changes")
    grade_threshold = FloatField(
        "Course grade target (%)",
        validators=[Optional(), NumberRange(0, 200, "Enter a percentage between 0 and 200.")],
        render_kw={"inputmode": "decimal"},
    )
    on_missing = BooleanField("An assignment is marked missing")
    on_due_soon = BooleanField("Something is due within 24 hours and not submitted")
    on_reconnect = BooleanField("Canvas needs me to reconnect")
    email = BooleanField("Email me (to my account's address)")
    webhook_url = StringField(
        "Webhook address (Discord or Slack)",
        validators=[Optional(), Length(max=2048, message="The address is too long.")],
        render_kw={"inputmode": "url", "spellcheck": "false", "maxlength": 2048,
                   "placeholder": "https://discord.com/api/webhooks/…"},
    )
    remove_webhook = BooleanField("Remove the saved webhook")
    quiet_start = SelectField("Quiet hours from", choices=_HOURS, coerce=_hour)
    quiet_end = SelectField("until", choices=_HOURS, coerce=_hour)
    digest = BooleanField("Send everything in one daily digest instead (after 18:00)")
    save_alerts = SubmitField("Save alerts")
    # The host of the saved webhook, for the page to name (the address itself is secret).
    saved_webhook_host: str | None = None
