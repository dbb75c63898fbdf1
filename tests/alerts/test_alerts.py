"""Alerts: a real SMTP server and a real webhook receiver on loopback, fed by real syncs.

On SQLite and Postgres. The syncs run through ``app.jobs.run_sync`` (what the CLI, the web
runner and the scheduler run), against the Canvas simulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app import alerts, jobs
from app.alerts import WebhookRefused, check_webhook_url, save_settings, send_digest
from app.alerts.choose import from_events
from app.extensions import db
from app.models import (
    AlertDelivery,
    AlertSettings,
    Assignment,
    Course,
    GradeCategory,
    GradeEvent,
    utcnow,
)
from app.outbound import STRICT, OutboundPolicy
from app.timezones import in_zone
from tests.alerts.test_ledger import first, ungraded
from tests.live_server import free_port, serving
from tests.school_year import MIDTERM

# Alerts follow grade changes in a term in progress: the tests live mid-term (tests/school_year.py).
pytestmark = pytest.mark.clock(MIDTERM)

SENDER = "alerts@gradesync.test"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox(app: Any) -> Iterator[Inbox]:
    """A real SMTP server on a loopback port, and the app's MAIL_* pointing at it."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False,
                      MAIL_DEFAULT_SENDER=SENDER, PUBLIC_URL="http://gradesync.test")
    try:
        yield handler
    finally:
        controller.stop()


class Receiver(ThreadingHTTPServer):
    bodies: list[dict[str, Any]]


class _Hook(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """A webhook receiver (Discord answers 204) on a loopback port, in a thread."""
    server = Receiver(("127.0.0.1", 0), _Hook)
    server.bodies = []
    with serving(server):
        yield server


def run(user: Any, incremental: bool = False) -> Any:
    sync_run = jobs.create_sync_run(user.id, incremental)
    result = jobs.run_sync(user.id, sync_run.id, incremental)
    assert result["status"] == "succeeded", result["error"]
    settle()
    return result


def settle() -> None:
    """The alerts go out on the alert queue's own threads: wait until they are handed over."""
    assert alerts.outbox().wait_idle(30)
    db.session.expire_all()


def grade_something(user: Any, student: Any) -> tuple[str, str, float]:
    """Grade an ungraded assignment in Canvas; (course name, assignment name) as we store them."""
    cid, aid = first(student, ungraded)
    student.grade(cid, aid, 7)
    course = db.session.scalar(select(Course).where(Course.canvas_course_id == cid))
    assignment = db.session.scalar(
        select(Assignment).where(Assignment.canvas_assignment_id == aid)
    )
    assert course is not None and assignment is not None
    return course.name, assignment.name, student.expected()[cid]["computed_current_score"]


def deliveries(user_id: int) -> list[AlertDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(AlertDelivery).where(AlertDelivery.user_id == user_id).order_by(AlertDelivery.id)
    ))


def test_new_grade_email_arrives_once_with_course_assignment_and_course_grade(
    canvas_user: Any, inbox: Inbox
) -> None:
    user, student = canvas_user
    run(user)
    assert inbox.messages == []  # the baseline sync: no events, no email
    course, assignment, course_score = grade_something(user, student)

    run(user, incremental=True)
    run(user)  # nothing new: nothing sent again
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    body = message.get_content()
    assert message["To"] == user.email and message["From"] == SENDER
    assert course in body and assignment in body and "graded 7/" in body
    assert f"{course_score:.1f}%" in body  # the new course grade
    assert message["List-Unsubscribe"].startswith("<http://gradesync.test/alerts/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [d.status for d in deliveries(user.id)] == ["sent"]


def test_a_baseline_sync_sends_nothing(canvas_user: Any, inbox: Inbox, hook: Receiver) -> None:
    user, _student = canvas_user
    save_settings(user.id, {"on_grade": True, "on_missing": True, "on_course_grade": True,
                            "on_due_soon": True, "grade_threshold": 100.0, "email": True,
                            "webhook_url": f"http://127.0.0.1:{hook.server_port}/h"},
                  OutboundPolicy(allow_private=True))
    run(user)
    assert inbox.messages == [] and hook.bodies == [] and deliveries(user.id) == []


def test_quiet_hours_hold_alerts_for_the_digest(canvas_user: Any, inbox: Inbox) -> None:
    user, student = canvas_user
    user.time_zone = "America/Chicago"
    db.session.commit()
    hour = in_zone(utcnow(), user.time_zone).hour
    save_settings(user.id, {"on_grade": True, "email": True, "quiet_start": hour,
                            "quiet_end": (hour + 3) % 24}, STRICT)
    run(user)
    _course, assignment, _score = grade_something(user, student)
    run(user)
    assert inbox.messages == []
    assert [d.status for d in deliveries(user.id)] == ["held"]

    assert send_digest(user.id, utcnow() + timedelta(hours=1)) == 0  # still quiet
    assert send_digest(user.id, utcnow() + timedelta(hours=4)) == 1  # quiet hours are over
    assert len(inbox.messages) == 1 and assignment in inbox.messages[0].get_content()
    assert send_digest(user.id, utcnow() + timedelta(hours=5)) == 0  # sent once
    assert len(inbox.messages) == 1 and [d.status for d in deliveries(user.id)] == ["sent"]


def test_the_daily_digest_sends_once_a_day_after_six_pm(canvas_user: Any, inbox: Inbox) -> None:
    user, student = canvas_user
    save_settings(user.id, {"on_grade": True, "email": True, "digest": True}, STRICT)
    run(user)
    grade_something(user, student)
    morning = utcnow().replace(hour=8, minute=0) + timedelta(days=1)  # UTC: the default zone
    run(user)
    assert send_digest(user.id, morning) == 0
    assert send_digest(user.id, morning.replace(hour=18, minute=5)) == 1
    assert len(inbox.messages) == 1 and "1 update" in inbox.messages[0]["Subject"]


def test_webhook_receives_the_json(canvas_user: Any, hook: Receiver, client: Any) -> None:
    user, student = canvas_user
    url = f"http://127.0.0.1:{hook.server_port}/discord"
    save_settings(user.id, {"on_grade": True, "email": False, "webhook_url": url},
                  OutboundPolicy(allow_private=True))
    run(user)
    course, assignment, _score = grade_something(user, student)
    run(user)
    run(user)
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["content"] == body["text"]
    assert course in body["content"] and assignment in body["content"]


def test_a_webhook_to_a_private_host_is_refused_when_saved(app: Any) -> None:
    with pytest.raises(WebhookRefused, match="private"):
        check_webhook_url("https://127.0.0.1/hook", STRICT)
    with pytest.raises(WebhookRefused, match="https"):
        check_webhook_url("http://example.com/hook", STRICT)


def test_settings_page_saves_alert_choices(client: Any, canvas_user: Any) -> None:
    user, _student = canvas_user
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    page = client.get("/settings")
    assert page.status_code == 200 and b"data-alerts" in page.data
    # New-grade alerts are on until the student turns them off; the rest are off.
    assert re.search(rb'<input[^>]* checked [^>]*name="on_grade"', page.data)
    assert not re.search(rb'<input[^>]* checked [^>]*name="on_missing"', page.data)
    response = client.post("/settings/alerts", data={
        "on_missing": "y", "email": "y", "grade_threshold": "80", "quiet_start": "22",
        "quiet_end": "7", "webhook_url": "",
    })
    assert response.status_code == 302
    saved = db.session.get(AlertSettings, user.id)
    assert saved is not None and saved.on_missing and not saved.on_grade
    assert (saved.grade_threshold, saved.quiet_start, saved.quiet_end) == (80, 22, 7)
    client.application.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False
    refused = client.post("/settings/alerts", data={"webhook_url": "https://10.0.0.5/x"})
    assert refused.status_code == 400 and b"private" in refused.data


def test_unsubscribe_link_works_signed_out_and_cannot_be_forged(
    canvas_user: Any, inbox: Inbox, client: Any
) -> None:
    user, student = canvas_user
    run(user)
    grade_something(user, student)
    run(user)
    link = re.search(r"http://gradesync\.test(/alerts/unsubscribe/\S+)",
                     inbox.messages[0].get_content())
    assert link is not None
    path = link.group(1)
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert client.post(tampered).status_code == 404
    other = path.replace(path.rsplit("/", 1)[1].split(".")[0], "eyJ1IjoyfQ")
    assert client.post(other).status_code == 404  # another user id, old signature
    assert client.get(path).status_code == 200  # a confirmation page; nothing changed yet
    assert settings_email(user.id) is True
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})  # not signed in
    assert done.status_code == 200 and b"no more alert emails" in done.data
    assert settings_email(user.id) is False

    grade_something(user, student)
    run(user)
    assert len(inbox.messages) == 1  # unsubscribed: no second email


def settings_email(user_id: int) -> bool | None:
    db.session.expire_all()
    row = db.session.get(AlertSettings, user_id)
    return True if row is None else row.email


def sync_run_result(user: Any, incremental: bool = False) -> Any:
    sync_run = jobs.create_sync_run(user.id, incremental)
    result = jobs.run_sync(user.id, sync_run.id, incremental)
    settle()
    return result


def test_missing_due_soon_and_reconnect_alerts(
    canvas_user: Any, inbox: Inbox, simulator: Any
) -> None:
    user, student = canvas_user
    save_settings(user.id, {"on_missing": True, "on_due_soon": True, "on_reconnect": True,
                            "email": True}, STRICT)
    run(user)
    cid, aid = first(student, ungraded)
    student.mark_missing(cid, aid)
    stored = db.session.scalar(select(Assignment).where(Assignment.canvas_assignment_id == aid))
    group = db.session.get(GradeCategory, stored.grade_category_id) if stored else None
    assert stored is not None and group is not None
    missing_name = stored.name
    student.add_assignment(cid, group.canvas_group_id, "Reading quiz 9",
                           due_at=utcnow() + timedelta(hours=5))
    run(user)
    assert len(inbox.messages) == 1, [m.get_content() for m in inbox.messages]
    body = inbox.messages[0].get_content()
    assert f"{missing_name} marked missing" in body
    assert "Reading quiz 9 is due in about 5 h and not submitted" in body
    run(user)
    assert len(inbox.messages) == 1  # neither repeats

    simulator.revoke_token("tok-freshman-1")
    for _ in range(2):
        failed = sync_run_result(user)
        assert failed["status"] == "failed" and failed["error_kind"] == "invalid_token"
    assert len(inbox.messages) == 2  # one reconnect alert for the dead token, not one a run
    assert "connect Canvas again" in inbox.messages[1].get_content()


def test_cli_sync_hands_the_email_to_smtp_before_it_returns(
    canvas_user: Any, inbox: Inbox, runner: Any
) -> None:
    user, student = canvas_user
    assert runner.invoke(args=["canvas", "sync", user.email]).exit_code == 0
    _course, assignment, _score = grade_something(user, student)
    result = runner.invoke(args=["canvas", "sync", user.email, "--incremental"])
    assert result.exit_code == 0, result.output
    assert len(inbox.messages) == 1 and assignment in inbox.messages[0].get_content()


def test_a_dead_smtp_server_never_fails_the_sync(
    canvas_user: Any, app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user, student = canvas_user
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                      MAIL_DEFAULT_SENDER=SENDER)
    run(user)
    grade_something(user, student)
    run(user)  # succeeds although nothing listens on the mail port
    assert [d.status for d in deliveries(user.id)] == ["failed"]
    assert any("alert email to user" in r.getMessage() for r in caplog.records)


def test_the_webhook_address_is_encrypted_never_shown_nor_logged(
    canvas_user: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user, student = canvas_user
    secret = "WEBHOOKSECRETtoken123"
    url = f"http://127.0.0.1:{free_port()}/api/webhooks/1/{secret}"  # nothing listens there
    save_settings(user.id, {"on_grade": True, "email": False, "webhook_url": url},
                  OutboundPolicy(allow_private=True))
    db.session.expire_all()
    row = db.session.get(AlertSettings, user.id)
    assert row is not None and row.webhook_url_encrypted is not None
    assert secret.encode() not in row.webhook_url_encrypted and row.webhook_host == "127.0.0.1"
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    page = client.get("/settings").data
    assert secret.encode() not in page and b"A webhook to 127.0.0.1 is saved" in page
    run(user)
    grade_something(user, student)
    run(user)
    assert [d.status for d in deliveries(user.id)] == ["failed"]
    assert any("alert webhook to user" in r.getMessage() for r in caplog.records)
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_a_scheduler_tick_sends_what_quiet_hours_held(canvas_user: Any, inbox: Inbox) -> None:
    from app.jobs.enqueue import enqueue_due

    user, student = canvas_user
    hour = utcnow().hour
    save_settings(user.id, {"on_grade": True, "email": True, "quiet_start": hour,
                            "quiet_end": (hour + 2) % 24}, STRICT)
    user.sync_interval_minutes = 0  # the tick only sends; no sync of its own
    db.session.commit()
    run(user)
    grade_something(user, student)
    run(user)
    assert inbox.messages == []
    enqueue_due(lambda *_: None, now=utcnow() + timedelta(hours=3))
    settle()
    assert len(inbox.messages) == 1


def test_a_run_with_nothing_new_sends_what_quiet_hours_held(
    canvas_user: Any, inbox: Inbox, pin_clock: Any
) -> None:
    """A run without a new grade still sends the alerts held in quiet hours once they are
    over (its alerts are skipped only when nothing is held, due or new)."""
    user, student = canvas_user
    hour = utcnow().hour
    save_settings(user.id, {"on_grade": True, "email": True, "quiet_start": hour,
                            "quiet_end": (hour + 2) % 24}, STRICT)
    run(user)
    grade_something(user, student)
    run(user, incremental=True)
    assert inbox.messages == [] and [d.status for d in deliveries(user.id)] == ["held"]
    run(user, incremental=True)  # still quiet, nothing new: nothing sent
    assert inbox.messages == []

    pin_clock(utcnow() + timedelta(hours=3))
    result = run(user, incremental=True)  # nothing new, the quiet hours over

    assert result["events"] == 0
    assert len(inbox.messages) == 1 and [d.status for d in deliveries(user.id)] == ["sent"]


def _course_event(before: float, after: float, letters: tuple[str, str]) -> GradeEvent:
    return GradeEvent(id=5, user_id=1, canvas_course_id=7, kind="course_grade_changed",
                      before={"score": before, "grade": letters[0]},
                      after={"score": after, "grade": letters[1]}, at=utcnow())


@pytest.mark.parametrize(
    ("before", "after", "letters", "alerted"),
    [
        (81.0, 79.0, ("B", "B"), True),  # fell below the 80% target
        (79.0, 78.0, ("C", "C"), False),  # already below: said once, not again
        (92.0, 89.0, ("A", "B"), True),  # the letter changed
        (85.0, 86.0, ("B", "B"), False),  # no threshold crossed, same letter
    ],
)
def test_course_grade_alerts(
    before: float, after: float, letters: tuple[str, str], alerted: bool
) -> None:

    settings = AlertSettings(on_grade=False, on_course_grade=True, grade_threshold=80.0,
                             on_missing=False)
    got = from_events(settings, [_course_event(before, after, letters)], {7: "Biology"})
    assert bool(got) is alerted
    if alerted:
        assert got[0].text.startswith(f"Biology: course grade {before:.1f}%")
