"""Issue 13 in a real browser, at desktop width and on a 375 px phone.

A student signs in, syncs (watching the bar move and the courses go by by name), reads the
result in words, opens a course and tries what-if scores in points and in percent, meets a
refused value at its box, asks "what do I need?" under each assumption, checks the pages for
accessible names, 3:1 contrast and sideways scrolling, and finally disconnects - and still sees
the grades. With GRADESYNC_UPDATE_SCREENSHOT=1 the screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

import tests.browser.test_browser as base
from app.extensions import db
from app.models import Assignment, Course
from tests.conftest import connect_user

pytestmark = pytest.mark.browser

# The fixtures of the first browser test, shared (an assignment, so ruff sees no re-import).
live_app = base.live_app
browser_page = base.browser_page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1200, "height": 900}, "phone": {"width": 375, "height": 740}}

# Records every value the progress bar and the progress line show, from the first paint on.
RECORDER = """
window.__bar = []; window.__lines = [];
document.addEventListener("DOMContentLoaded", function () {
  var bar = document.querySelector("progress[data-field=progress]");
  var line = document.querySelector("[data-field=message]");
  if (!bar || !line) { return; }
  window.__bar.push(Number(bar.value));
  window.__lines.push(line.textContent);
  new MutationObserver(function () { window.__bar.push(Number(bar.value)); })
    .observe(bar, {attributes: true, attributeFilter: ["value"]});
  new MutationObserver(function () { window.__lines.push(line.textContent); })
    .observe(line, {childList: true, characterData: true, subtree: true});
});
"""

# Every control's accessible name, the way a screen reader finds it (a focused stand-in for
# axe-core, which is not available offline).
UNNAMED_CONTROLS = """
() => {
  function text(el) { return el ? (el.textContent || "").trim() : ""; }
  function name(el) {
    if (el.getAttribute("aria-label")) { return el.getAttribute("aria-label"); }
    var by = el.getAttribute("aria-labelledby");
    if (by) { return by.split(/\\s+/).map(function (id) {
      return text(document.getElementById(id)); }).join(" "); }
    if (el.id) {
      var label = document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
      if (label) { return text(label); }
    }
    if (el.closest("label")) { return text(el.closest("label")); }
    if (el.matches("button, a, summary")) { return text(el); }
    if (el.matches("input[type=submit], input[type=button], input[type=reset]")) {
      return el.value; }
    return el.getAttribute("title") || "";
  }
  var bad = [];
  document.querySelectorAll(
    "input:not([type=hidden]), select, textarea, button, a[href], summary, progress"
  ).forEach(function (el) {
    var n = (name(el) || "").trim();
    if (!n || /^on$/i.test(n)) { bad.push(el.outerHTML.slice(0, 100)); }
  });
  return bad;
}
"""


# The what-if figures are current (no answer outstanding).
SETTLED = "() => !document.querySelector('[data-what-if-root]').classList.contains('is-pending')"


def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_on_white(css: str) -> float:
    """WCAG contrast ratio of an ``rgb(...)`` colour against white."""
    return 1.05 / (_luminance(css) + 0.05)


def _shot(page: Any, tmp_path: Path, name: str, *, full_page: bool = True) -> None:
    folder = SCREENSHOTS if os.environ.get("GRADESYNC_UPDATE_SCREENSHOT") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"after-{name}.png"), full_page=full_page)


def _check_page(page: Any, width: int) -> None:
    """Accessible names everywhere; at phone width, nothing wider than the screen."""
    assert page.evaluate(UNNAMED_CONTROLS) == [], page.url
    if width <= 375:
        assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_first_hour_of_a_student(live_app: tuple[Any, str], simulator: Any,
                                 browser_page: Any, tmp_path: Path, device: str) -> None:
    from playwright.sync_api import expect

    app, site = live_app
    page = browser_page
    viewport = VIEWPORTS[device]
    width = viewport["width"]
    page.set_viewport_size(viewport)
    with app.app_context():
        connect_user(app, simulator, email=base.EMAIL, token=f"tok-{device}")
    # Slow Canvas a little, as the demo does, so the sync has states in between to show.
    simulator.config.latency = 0.2
    page.add_init_script(RECORDER)

    page.goto(f"{site}/login")
    page.fill("#email", base.EMAIL)
    page.fill("#password", base.PASSWORD)
    page.click("#submit")
    _check_page(page, width)

    # --- Sync: a bar that moves, courses by name, the result in words -----------------------
    page.click("button[data-sync-button]")
    expect(page).to_have_url(re.compile(r"/sync/\d+$"))
    result = page.locator("[data-field=result]")
    expect(result).to_contain_text("Sync finished. Checked", timeout=30_000)
    bar = page.evaluate("window.__bar")
    assert any(0 < value < 100 for value in bar), f"the bar jumped: {bar}"
    assert bar[-1] == 100
    lines = [line for line in page.evaluate("window.__lines") if line]
    # Words, never the engine's log form "[2/5] Syncing course: …" (which, when the engine
    # stores it, reads "Syncing Biology 101 — 2 of 5": see test_ux_pages).
    assert lines and not any(re.search(r"\[\d+/\d+\]|course:", line) for line in lines), lines
    # Courses by name as they go by, even though this Canvas answers every course at once (the
    # five are written within milliseconds of each other, between two polls).
    steps = [re.fullmatch(r"Syncing (.+) — (\d+) of (\d+)", line) for line in lines]
    assert any(m and m.group(1).strip() and 0 < int(m.group(2)) < int(m.group(3))
               for m in steps), lines
    assert re.search(r"Checked \d+ courses", result.inner_text())
    details = result.locator("details")
    expect(details.locator("p")).to_be_hidden()  # the technical counts: one click away
    details.locator("summary").click()
    expect(details).to_contain_text("requests")
    track = page.evaluate("getComputedStyle(document.querySelector('progress')).borderTopColor")
    assert contrast_on_white(track) >= 3, track
    _check_page(page, width)
    _shot(page, tmp_path, f"{device}-sync")

    page.goto(f"{site}/sync/history")
    expect(page.locator("table.history")).to_contain_text("Checked")
    _check_page(page, width)
    _shot(page, tmp_path, f"{device}-history")

    page.goto(f"{site}/")
    _check_page(page, width)
    if device == "desktop":  # one column grid for every term
        lefts = page.evaluate("""[...document.querySelectorAll('table.courses')].map(
            t => [...t.querySelectorAll('thead th')].map(th => th.getBoundingClientRect().left))""")
        assert all(row == lefts[0] for row in lefts), lefts
    _shot(page, tmp_path, f"{device}-dashboard")

    # --- Dates in the student's zone (their Canvas profile says America/Chicago) --------------
    page.goto(f"{site}/settings")
    page.click("input[value='Test connection']")
    expect(page.locator("#time_zone")).to_have_value("America/Chicago")
    _check_page(page, width)

    # --- What-if in points and in percent; an implausible value refused at its box -----------
    course_id, assignment_id, course_name = base._course_with_a_counted_score(app)
    with app.app_context():
        points = db.session.get(Assignment, assignment_id).points_possible
        ungraded = db.session.scalars(db.select(Assignment.id).where(
            Assignment.course_id == course_id, Assignment.score.is_(None),
            Assignment.points_possible > 0)).all()
    with app.app_context():  # due Tuesday 11:59 pm in Chicago, which Canvas sends as Wed 05:59Z
        db.session.execute(update(Assignment).where(Assignment.id == assignment_id)
                           .values(due_at=datetime(2026, 3, 4, 5, 59, tzinfo=UTC)))
        db.session.commit()
    page.goto(f"{site}/courses/{course_id}")
    expect(page.locator("h1")).to_contain_text(course_name)
    due = page.locator(f"tr:has(#what-if-{assignment_id}) [data-label=Due]")
    expect(due).to_have_text("Mar 03, 2026, 11:59 PM")
    _check_page(page, width)
    box = page.locator(f"#what-if-{assignment_id}")
    unit = page.locator(f"#what-if-{assignment_id}-unit")
    expect(unit).to_have_text(re.compile(rf"/ {points:g}\b"))
    for item in ungraded:
        assert page.locator(f"#what-if-{item}").get_attribute("placeholder")
    grade = page.locator("[data-what-if-percent]")
    sticky = page.locator("[data-what-if-bar]")

    box.fill(f"{points * 10:g}")  # "100" meaning 100 % in a 10-point box
    expect(box).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#what-if-{assignment_id}-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("At most")
    expect(sticky).to_contain_text("1 entry not used")
    box_rect, error_rect = box.bounding_box(), error.bounding_box()
    assert 0 <= error_rect["y"] - box_rect["y"] < 120  # the message sits by the box
    assert box_rect["x"] + box_rect["width"] <= width  # reachable without scrolling sideways
    assert float(grade.inner_text().rstrip("%")) < 150
    box.evaluate("el => el.scrollIntoView({block: 'center'})")
    _shot(page, tmp_path, f"{device}-course-invalid", full_page=False)

    box.fill("90%")
    expect(box).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-what-if-changed]")).to_be_visible()
    as_percent = grade.inner_text()
    box.fill(f"{points * 0.9:g}")
    expect(page.locator("[data-what-if-changed]")).to_be_visible()
    page.wait_for_function(SETTLED)
    assert grade.inner_text() == as_percent

    # The what-if grade stays in sight while the student edits the last row.
    last = page.locator("input[data-what-if]").last
    last.scroll_into_view_if_needed()
    last.fill("0")
    page.wait_for_function(SETTLED)
    rect = sticky.bounding_box()
    assert rect["y"] >= 0 and rect["y"] + rect["height"] <= viewport["height"] + 1, rect
    expect(sticky.locator("[data-what-if-mirror=percent]")).to_have_text(grade.inner_text())
    # Keyboard focus shows a ring of at least 3:1 on white, on the box and the next control.
    last.focus()
    for _ in range(2):
        ring = page.evaluate("""(() => { const s = getComputedStyle(document.activeElement);
            return [s.outlineStyle, s.outlineColor, s.borderTopColor]; })()""")
        assert ring[0] != "none" and contrast_on_white(ring[1]) >= 3, ring
        page.keyboard.press("Tab")
    assert contrast_on_white(page.evaluate(
        f"getComputedStyle(document.querySelector('#what-if-{assignment_id}')).borderTopColor"
    )) >= 3
    _shot(page, tmp_path, f"{device}-course", full_page=False)
    page.click("text=Clear what-if scores")

    # --- What do I need, with a stated assumption ---------------------------------------------
    page.select_option("#target-assignment", str(assignment_id))
    page.fill("#target-percent", "50")
    needed = page.locator("[data-needed-result]")
    for value, words in (("exclude", "left out"), ("zero", "scores 0"),
                         ("average", "current average")):
        page.get_by_label("Other ungraded work").select_option(value)
        expect(needed).to_contain_text("This assumes")
        expect(needed).to_contain_text(words)

    # --- Honest states: no "differs" without a Canvas score; final-grade help ----------------
    with app.app_context():
        db.session.execute(update(Course).where(Course.id == course_id)
                           .values(canvas_current_score=None))
        db.session.commit()
    page.reload()
    expect(page.locator("[data-differs]")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("Canvas shows no course score")
    if page.locator("#final-grade-term").count():
        expect(page.locator("[data-final-help]")).to_be_visible()

    # --- A wrong token or a missing field: the page opens at the reason, not above it ---------
    page.goto(f"{site}/settings")
    page.fill("#url", simulator.base_url)
    page.fill("#token", "not-a-real-token-42")
    page.click("text=Save and connect")
    refusal = page.locator("[role=alert]", has_text="Canvas rejected this token")
    expect(refusal).to_be_in_viewport()
    expect(refusal).to_be_focused()
    assert "not-a-real-token-42" not in page.content()  # a token is never rendered back
    _check_page(page, width)
    page.fill("#url", simulator.base_url)
    page.click("text=Save and connect")  # no token at all
    expect(page.locator("#token")).to_be_focused()
    expect(page.locator("#token-error")).to_be_in_viewport()

    # --- Disconnect asks first, then the grades stay, read-only -------------------------------
    page.goto(f"{site}/settings")
    _check_page(page, width)
    # One connection has one "Disconnect…" (issue 24: no second "Disconnect Canvas…").
    page.get_by_role("link", name="Disconnect…").click()
    expect(page.locator("[data-disconnect-effects]")).to_contain_text("stay here, read-only")
    _check_page(page, width)
    page.click("text=Disconnect and delete the token")
    expect(page.locator("body")).to_contain_text("Canvas is disconnected")
    page.goto(f"{site}/")
    expect(page.locator("[data-read-only]")).to_be_visible()
    expect(page.locator(f"a[href='/courses/{course_id}']")).to_be_visible()
    expect(page.locator("button[data-sync-button]")).to_have_count(0)
    _check_page(page, width)
    page.click(f"a[href='/courses/{course_id}']")
    expect(page.locator(f"#what-if-{assignment_id}")).to_be_visible()
