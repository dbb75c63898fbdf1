"""Canvas text reaches terminals, pages, calendars and logs without tricks (issue 21).

A course named ``"Bio\\u202e1.0 :edarg\\u202c"`` prints as "Bio grade: 0.1" on a terminal that
honours bidi controls. Format characters (category Cf, zero-width joiners kept) and the Unicode
line separators are removed where Canvas text enters (the sync parser) and again at each
output for text stored before. CLI input that cannot work is a one-line error, and request
logs carry no calendar secret, unsubscribe token or OAuth code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select, update
from werkzeug.serving import make_server

from app.calendar import new_feed_secret
from app.extensions import db
from app.models import Assignment, Course
from app.pages.outward import SecretPathFilter, redact
from app.safe_text import strip_control
from tests.alerts.test_alerts import run
from tests.alerts.test_ledger import first, ungraded
from tests.school_year import MIDTERM

pytestmark = pytest.mark.clock(MIDTERM)

REVERSED = "Bio\u202e1.0 :edarg\u202c"
SHOWN = "Bio1.0 :edarg"
INVISIBLE = ("\u202e", "\u202c", "\u2066", "\u2028", "\u2029", "\u200b", "\ufeff")


def _visible(text: str) -> bool:
    return not any(ch in text for ch in INVISIBLE)


def test_strip_control_removes_format_characters_but_keeps_emoji_joiners() -> None:
    assert strip_control(REVERSED) == SHOWN
    assert strip_control("a\u2028b\u2029c\x85d") == "a b c d"
    assert strip_control("\u2066x\u2069\u200by\ufeff\u00ad") == "xy"
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one emoji, joined by ZWJ
    assert strip_control(family) == family
    assert strip_control("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645")  # Persian keeps its ZWNJ


def _stored_with_bidi(user: Any) -> tuple[int, str]:
    """Give one synced course a name stored before the parser cleaned names."""
    course = db.session.scalars(select(Course).where(Course.user_id == user.id)).first()
    assert course is not None
    db.session.execute(update(Course).where(Course.id == course.id).values(name=REVERSED))
    db.session.commit()
    return course.id, course.name


def test_a_canvas_name_with_bidi_controls_is_stored_without_them(canvas_user: Any) -> None:
    user, student = canvas_user
    cid = next(iter(student.expected()))
    student.course(cid).name = REVERSED + "\u2028Honors"
    run(user)
    name = db.session.scalar(select(Course.name).where(Course.canvas_course_id == cid))
    assert name == SHOWN + " Honors"


def test_flask_changes_prints_no_bidi_controls(canvas_user: Any, runner: Any) -> None:
    user, student = canvas_user
    run(user)
    cid, aid = first(student, ungraded)
    student.grade(cid, aid, 6)
    run(user)
    db.session.execute(update(Course).where(Course.canvas_course_id == cid)
                       .values(name=REVERSED))
    db.session.commit()
    out = runner.invoke(args=["changes", user.email])
    assert out.exit_code == 0, out.output
    assert SHOWN in out.output and _visible(out.output)
    grades = runner.invoke(args=["grades", user.email])
    assert SHOWN in grades.output and _visible(grades.output)


def test_pages_and_the_calendar_feed_show_no_bidi_controls(
    canvas_user: Any, client: Any
) -> None:
    user, _student = canvas_user
    run(user)
    course_id, _name = _stored_with_bidi(user)
    assignment = db.session.scalars(
        select(Assignment).where(Assignment.course_id == course_id)).first()
    assert assignment is not None
    assignment.name = "Lab\u2066 3\u2069\u2028report"
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    for path in ("/", f"/courses/{course_id}"):
        page = client.get(path).get_data(as_text=True)
        assert SHOWN in page and _visible(page), path
    secret = new_feed_secret(user)
    feed = client.get(f"/calendar/{secret}.ics").get_data(as_text=True)
    assert "Lab 3 report" in feed and _visible(feed)


def test_changes_since_before_the_first_utc_moment_is_a_one_line_error(
    canvas_user: Any, runner: Any
) -> None:
    user, _student = canvas_user
    out = runner.invoke(args=["changes", user.email, "--since", "0001-01-01T00:00:00+14:00"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    error = [line for line in out.output.splitlines() if line.startswith("Error")]
    assert error and "--since" in error[0] and "outside the dates" in error[0]
    assert out.exception is None or isinstance(out.exception, SystemExit)


@pytest.mark.parametrize("client_id", ["1\n2", "12 34", "12\x1b[31m", "1\u20282"])
def test_oauth_client_id_with_a_line_break_is_refused(
    runner: Any, simulator: Any, client_id: str
) -> None:
    out = runner.invoke(args=["canvas", "oauth-client", "add", "--url", simulator.base_url,
                              "--client-id", client_id, "--client-secret", "s3cret-value"])
    assert out.exit_code == 1 and len(out.output.strip().splitlines()) == 1
    assert out.output.startswith("Error: the client id must be one word")
    listed = runner.invoke(args=["canvas", "oauth-client", "list"])
    assert listed.output.strip() == "No developer keys are registered."


# --- request logs -----------------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    '"GET /calendar/AbCdEf123_-xyz.ics HTTP/1.1" 200 -',
    '"POST /alerts/unsubscribe/eyJ1IjoxLCJ0IjoxfQ.sig-nature HTTP/1.1" 200 -',
    '"GET /oauth/canvas/callback?code=c0de-SECRET&state=st4te.SECRET HTTP/1.1" 302 -',
])
def test_redact_hides_the_secret_in_a_request_line(line: str) -> None:
    hidden = redact(line)
    assert "SECRET" not in hidden and "AbCdEf123" not in hidden and "sig-nature" not in hidden
    assert "[redacted]" in hidden and hidden.endswith(line[-9:])


def test_the_gunicorn_access_log_record_is_redacted() -> None:
    """gunicorn's access logger formats a dict of atoms (its access_log_format)."""
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s',
        ({"h": "10.0.0.1", "r": "GET /calendar/TopSecret.ics HTTP/1.1", "s": "200"},), None)
    assert SecretPathFilter().filter(record)
    assert record.getMessage() == '10.0.0.1 "GET /calendar/[redacted].ics HTTP/1.1" 200'


@pytest.fixture
def served(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_werkzeug_request_log_carries_no_calendar_secret(
    canvas_user: Any, served: str, caplog: pytest.LogCaptureFixture
) -> None:
    user, _student = canvas_user
    secret = new_feed_secret(user)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert requests.get(f"{served}/calendar/{secret}.ics", timeout=10).status_code == 200
        requests.get(f"{served}/alerts/unsubscribe/SECRETtoken.x", timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/calendar/[redacted].ics" in line for line in lines), lines
    assert all(secret not in line and "SECRETtoken" not in line for line in lines)
