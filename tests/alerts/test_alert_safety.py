# ruff: noqa: F811  (the inbox and hook fixtures are imported from tests/alerts/test_alerts.py)
"""Alerts that Canvas text cannot break or turn against the student (issue 21, round 3).

A course name with a line separator still arrives by email (and a send that fails for any
reason marks its alerts failed, never "sending" for good); webhook text pings nobody; the
mail carries a plain List-Unsubscribe header; unsubscribe links expire, show no address
without a login, and do nothing once used or older than the student's last change.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from app.alerts import deliver, mail, save_settings
from app.alerts.choose import Alert
from app.alerts.prefs import settings_for
from app.extensions import db
from app.models import utcnow
from app.outbound import STRICT, OutboundPolicy
from tests.alerts.test_alerts import (  # noqa: F401  (fixtures)
    Inbox,
    Receiver,
    deliveries,
    grade_something,
    hook,
    inbox,
    run,
)
from tests.school_year import MIDTERM

pytestmark = pytest.mark.clock(MIDTERM)

LINE_SEPARATOR_NAME = "Biology\u2028Honors"


def test_a_course_name_with_a_line_separator_still_gets_its_alert(
    canvas_user: Any, inbox: Inbox
) -> None:
    user, student = canvas_user
    run(user)
    cid = next(iter(student.expected()))
    student.course(cid).name = LINE_SEPARATOR_NAME  # Canvas renames the course
    course, assignment, _score = grade_something(user, student)
    run(user)
    assert [d.status for d in deliveries(user.id)] == ["sent"]
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert "\u2028" not in message["Subject"] and "\u2028" not in message.get_content()
    assert assignment in message.get_content()


def test_an_alert_text_stored_with_a_line_separator_is_sent(
    canvas_user: Any, inbox: Inbox
) -> None:
    """Text that reached the database before the sync cleaned it: the mail is still built."""
    user, _student = canvas_user
    settings = settings_for(user.id)
    text = f"{LINE_SEPARATOR_NAME}: Lab 3 graded 7/10\u202e"
    assert deliver.dispatch(user, settings, [Alert("event:1", text, text)], utcnow()) == 1
    assert [d.status for d in deliveries(user.id)] == ["sent"]
    assert inbox.messages[0]["Subject"] == "GradeSync: Biology Honors: Lab 3 graded 7/10"


def test_any_send_error_marks_the_alert_failed_not_sending(
    canvas_user: Any, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, _student = canvas_user

    def broken(*_args: Any) -> Any:
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    monkeypatch.setattr(mail, "build_message", broken)
    alert = Alert("event:2", "Biology: Lab 3 graded", "Biology: Lab 3 graded 7/10")
    deliver.dispatch(user, settings_for(user.id), [alert], utcnow())
    assert [d.status for d in deliveries(user.id)] == ["failed"]
    assert inbox.messages == []


def test_list_unsubscribe_is_sent_plain_for_one_click(canvas_user: Any, inbox: Inbox) -> None:
    user, _student = canvas_user
    alert = Alert("event:3", "Biology: Lab 3 graded", "Biology: Lab 3 graded 7/10")
    deliver.dispatch(user, settings_for(user.id), [alert], utcnow())
    raw = inbox.messages[0].as_bytes(policy=mail.MESSAGE_POLICY)
    header = re.search(rb"^List-Unsubscribe: (.*)$", raw, re.MULTILINE)
    assert header is not None and b"=?" not in header.group(1)
    assert header.group(1).startswith(b"<http://gradesync.test/alerts/unsubscribe/")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def _hooked(user: Any, hook: Receiver) -> None:
    save_settings(user.id, {"on_grade": True, "email": False,
                            "webhook_url": f"http://127.0.0.1:{hook.server_port}/h"},
                  OutboundPolicy(allow_private=True))


def test_webhook_text_pings_nobody(canvas_user: Any, hook: Receiver) -> None:
    user, student = canvas_user
    _hooked(user, hook)
    run(user)
    cid = next(iter(student.expected()))
    student.course(cid).name = "@everyone <!channel> <@U024BE7LH> A&B"
    grade_something(user, student)
    run(user)
    body = hook.bodies[0]
    assert body["allowed_mentions"] == {"parse": []}  # Discord: no mention notifies
    slack = body["text"]
    assert "<!channel>" not in slack and "&lt;!channel&gt;" in slack
    assert "<@U024BE7LH>" not in slack and "A&amp;B" in slack
    assert "@everyone" not in slack and "@channel" not in slack


def test_webhook_and_mail_lose_bidi_controls(canvas_user: Any, hook: Receiver) -> None:
    user, _student = canvas_user
    _hooked(user, hook)
    text = "Bio\u202e1.0 :edarg\u202c graded"
    deliver.dispatch(user, settings_for(user.id), [Alert("event:4", text, text)], utcnow())
    assert hook.bodies[0]["content"] == "Bio1.0 :edarg graded"


def _link(user: Any, inbox: Inbox, key: str = "event:9") -> str:
    """Send the student one alert email; the unsubscribe path it carries."""
    alert = Alert(key, "Biology: Lab 3 graded", "Biology: Lab 3 graded 7/10")
    deliver.dispatch(user, settings_for(user.id), [alert], utcnow())
    found = re.search(r"http://gradesync\.test(/alerts/unsubscribe/\S+)",
                      inbox.messages[-1].get_content())
    assert found is not None
    return found.group(1)


def _email_on(user_id: int) -> bool:
    db.session.expire_all()
    return settings_for(user_id).email


def test_the_unsubscribe_page_shows_no_address_without_a_login(
    canvas_user: Any, inbox: Inbox, client: Any
) -> None:
    user, _student = canvas_user
    path = _link(user, inbox)
    page = client.get(path)
    assert page.status_code == 200 and user.email.encode() not in page.data
    done = client.post(path)
    assert b"no more alert emails" in done.data and user.email.encode() not in done.data
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert user.email.encode() in client.get(_link(user, inbox, "event:10")).data  # the owner


def test_an_unsubscribe_link_used_once_or_before_a_change_does_nothing(
    canvas_user: Any, inbox: Inbox, client: Any
) -> None:
    user, _student = canvas_user
    path = _link(user, inbox)
    assert client.post(path).status_code == 200 and not _email_on(user.id)
    # The student turns alert emails back on; the old email's link must not undo that.
    save_settings(user.id, {"on_grade": True, "email": True}, STRICT)
    replay = client.post(path)
    assert replay.status_code == 410 and b"changed nothing" in replay.data
    assert _email_on(user.id)
    assert client.get(path).status_code == 410  # and says so before anyone clicks
    # A link from an email sent after the change works.
    assert client.post(_link(user, inbox, "event:11")).status_code == 200
    assert not _email_on(user.id)


def test_an_unsubscribe_link_expires(
    canvas_user: Any, inbox: Inbox, client: Any, pin_clock: Any
) -> None:
    user, _student = canvas_user
    path = _link(user, inbox)
    pin_clock(MIDTERM + mail.UNSUBSCRIBE_MAX_AGE + timedelta(days=1))
    stale = client.post(path)
    assert stale.status_code == 410 and b"expired" in stale.data
    assert _email_on(user.id)
