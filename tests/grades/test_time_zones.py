"""Issue 12: every date in the student's time zone, never as a UTC date.

A 23:59 deadline in America/Chicago reaches us as 05:59Z the next day; a page that printed the
UTC date would show it a day late.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from app.models import Assignment, SyncRun, User
from app.pages.common import format_dt
from app.timezones import valid_zone, zone_names
from tests.auth_actions import AuthActions, sign_in
from tests.pages.test_dashboard import make_course
from tests.sync_helpers import add_fake_connection

# Wednesday 4 March 2026, 05:59 UTC: Tuesday 3 March, 11:59 pm in Chicago (CST, UTC-6).
DEADLINE = datetime(2026, 3, 4, 5, 59, tzinfo=UTC)
DUE_FORMAT = "%b %d, %Y, %I:%M %p"
TOKEN = "1~time-zone-token-abcdef"


def test_a_0559_utc_deadline_is_the_previous_evening_in_chicago() -> None:
    shown = format_dt(DEADLINE, DUE_FORMAT, zone="America/Chicago")
    assert ">Mar 03, 2026, 11:59 PM</time>" in shown
    assert 'title="2026-03-03 23:59 CST"' in shown
    assert 'datetime="2026-03-04T05:59:00Z"' in shown  # the machine-readable instant is exact
    # Without a zone (none known yet) it says UTC, never a local-looking date.
    assert ">Mar 04, 2026, 05:59 AM</time>" in format_dt(DEADLINE, DUE_FORMAT, zone="UTC")
    # A naive value is UTC, as the database stores it.
    naive = format_dt(DEADLINE.replace(tzinfo=None), DUE_FORMAT, zone="America/Chicago")
    assert ">Mar 03, 2026, 11:59 PM</time>" in naive


def test_unknown_zone_names_are_refused() -> None:
    assert valid_zone("America/Chicago") == "America/Chicago"
    for bad in ("Mars/Olympus", "", None, "../etc/passwd", "localtime", 5):
        assert valid_zone(bad) is None
    assert "Europe/Paris" in zone_names() and "localtime" not in zone_names()


def test_course_page_shows_due_dates_in_the_students_zone(client: Any, db: Any) -> None:
    AuthActions(client).register(email="tz@example.edu")
    user = db.session.scalar(select(User).where(User.email == "tz@example.edu"))
    add_fake_connection(user)
    user.time_zone = "America/Chicago"
    db.session.commit()
    course = make_course(db, user, name="Biology")
    db.session.execute(update(Assignment).where(Assignment.course_id == course.id,
                                                Assignment.name == "Final Exam")
                       .values(due_at=DEADLINE))
    db.session.commit()
    sign_in(client, "tz@example.edu")
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "Mar 03, 2026, 11:59 PM" in page
    assert "Mar 04, 2026" not in page
    assert "Dates in America/Chicago time" in page
    # No zone known yet (the profile did not say): UTC, said so, with the way to change it.
    user.time_zone = None
    db.session.commit()
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "Mar 04, 2026, 05:59 AM" in page and "Dates in UTC" in page


def test_connecting_takes_the_zone_from_the_canvas_profile(client: Any, db: Any,
                                                          simulator: Any) -> None:
    student = simulator.add_student(TOKEN, preset="freshman")
    student.user.time_zone = "America/Denver"
    AuthActions(client).register()
    response = client.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    db.session.refresh(user)
    assert user.time_zone == "America/Denver"
    page = client.get("/settings").get_data(as_text=True)
    assert re.search(r'<option (selected value="America/Denver"|value="America/Denver" selected)',
                     page)


def test_the_zone_is_changeable_in_settings_and_checked(client: Any, db: Any) -> None:
    AuthActions(client).register()
    page = client.get("/settings").get_data(as_text=True)
    assert '<option value="Pacific/Auckland">' in page  # every IANA zone is offered
    response = client.post("/settings/time-zone", data={"time_zone": "Europe/Paris"})
    assert response.status_code == 302
    assert "Dates are now shown in Europe/Paris time." in client.get("/settings").get_data(
        as_text=True)
    refused = client.post("/settings/time-zone", data={"time_zone": "Mars/Olympus"})
    assert refused.status_code == 400
    assert "Choose a time zone from the list, e.g. America/Chicago." in refused.get_data(
        as_text=True)
    user = db.session.scalar(select(User))
    db.session.refresh(user)
    assert user.time_zone == "Europe/Paris"


def test_sync_history_and_status_show_the_start_in_the_students_zone(client: Any,
                                                                     db: Any) -> None:
    AuthActions(client).register(email="tz@example.edu")
    user = db.session.scalar(select(User).where(User.email == "tz@example.edu"))
    user.time_zone = "America/Chicago"
    run = SyncRun(user_id=user.id, kind="full", status="succeeded", created_at=DEADLINE,
                  started_at=DEADLINE, finished_at=DEADLINE, summary={"courses": 3})
    db.session.add(run)
    db.session.commit()
    for url in ("/sync/history", f"/sync/{run.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "Mar 03, 2026, 11:59 PM" in page, url
        assert "Mar 04, 2026" not in page, url
