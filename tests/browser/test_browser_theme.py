"""Issue 22 in a real browser, at desktop width and on a 375 px phone: dark mode and install.

Dark mode follows the system (``prefers-color-scheme``) until the student flips the header's
switch, which is remembered across reloads. In both themes every visible piece of text meets
WCAG AA contrast on what is really behind it (4.5:1, or 3:1 for large text), and the grade
chart's line, dots and labels stand out from the card. The site installs: the manifest has
the icons and start URL a phone needs, and the service worker is registered for the whole
site; offline, the dashboard is served from it and says how old its grades are.
With GRADESYNC_SHOTS=<folder> each page is photographed in both themes as
``{page}-{light|dark}-{desktop|phone}.png`` (the GPA, planner and API-token tests use the same
helpers; docs/screenshots/themes/ holds the committed set).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tests.browser.test_browser as base
import tests.browser.test_browser_phone as phone
from app import jobs
from app.extensions import db
from app.models import Course, NotifyChannel, User
from tests.alerts.test_alerts import grade_something, settle
from tests.conftest import connect_user

pytestmark = pytest.mark.browser

live_app = base.live_app
browser_page = base.browser_page

# One saved channel of each kind (masked as Settings stores them), measured with the page.
CHANNELS = [
    ("ntfy", "ntfys://****@ntfy.sh/gr****"),
    ("discord", "https://discord.com/api/webhooks/1234****/****"),
    ("telegram", "tgram://12****/-1****"),
    ("matrix", "matrixs://****@matrix-client.matrix.org/!ab****"),
]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}

# Every visible text node's colour against the first opaque background behind it, and the
# chart's marks against the card: the WCAG ratio, and what falls short.
CONTRAST = r"""
() => {
  function rgba(css) {
    var m = css.match(/[\d.]+/g) || [0, 0, 0, 0];
    return [+m[0], +m[1], +m[2], m.length > 3 ? +m[3] : 1];
  }
  function lum(c) {
    var v = c.slice(0, 3).map(function (x) {
      x = x / 255; return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function ratio(a, b) {
    var x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function background(el) {
    for (var e = el; e; e = e.parentElement) {
      var c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0.5) { return c; }
    }
    return rgba(getComputedStyle(document.documentElement).backgroundColor);
  }
  function visible(el) {
    var s = getComputedStyle(el), r = el.getBoundingClientRect();
    return s.visibility !== "hidden" && s.display !== "none" && r.width > 1 && r.height > 1 &&
      !el.closest("[hidden], .visually-hidden, .skip-link, [disabled]");
  }
  var bad = [];
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var seen = new Set();
  while (walker.nextNode()) {
    var el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el || seen.has(el)) { continue; }
    seen.add(el);
    if (el.closest("svg, title, script, style") || !visible(el)) { continue; }
    var s = getComputedStyle(el);
    var size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    var need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    var r = ratio(rgba(s.color), background(el));
    if (r < need) { bad.push(el.tagName + " '" + el.textContent.trim().slice(0, 30) + "' " +
                             r.toFixed(2) + " < " + need); }
  }
  document.querySelectorAll(".grade-chart .chart-line, .grade-chart .chart-dot, " +
                            ".grade-chart .chart-label").forEach(function (mark) {
    var s = getComputedStyle(mark);
    var colour = mark.classList.contains("chart-line") ? s.stroke : s.fill;
    var need = mark.classList.contains("chart-label") ? 4.5 : 3;
    var r = ratio(rgba(colour), background(mark.closest("figure")));
    if (r < need) { bad.push("chart " + mark.getAttribute("class") + " " + r.toFixed(2)); }
  });
  return bad;
}
"""

PAGE_BG = "getComputedStyle(document.body).backgroundColor"


def _dark(page: Any) -> bool:
    """Whether the page is drawn dark (its background's brightness, not an attribute)."""
    values = [int(v) for v in re.findall(r"\d+", page.evaluate(PAGE_BG))[:3]]
    return sum(values) / 3 < 80


def _check_both_themes(page: Any, width: int, shots: Path | None, name: str,
                       device: str, *, full_page: bool = False) -> None:
    """The page in the light and the dark system theme: readable, nothing too wide.

    Photographed (into ``shots``, if given) as the screen shows it, or whole if ``full_page``.
    """
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert _dark(page) == (scheme == "dark"), (name, scheme)
        assert page.evaluate(CONTRAST) == [], (name, scheme)
        phone._check_page(page, width)
        if shots is not None:
            page.screenshot(path=str(shots / f"{name}-{scheme}-{device}.png"),
                            full_page=full_page)


def _shots() -> Path | None:
    folder = os.environ.get("GRADESYNC_SHOTS")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _synced_student(app: Any, simulator: Any, device: str) -> int:
    """A student with two syncs and a grade between them (so the chart has a line)."""
    with app.app_context():
        user, student = connect_user(app, simulator, email=base.EMAIL, token=f"tok-th-{device}")
        for step in range(2):
            run = jobs.create_sync_run(user.id, False)
            assert jobs.run_sync(user.id, run.id, False)["status"] == "succeeded"
            settle()
            if step == 0:
                grade_something(user, student)
        course_ids = db.session.scalars(select(Course.id).where(Course.user_id == user.id))
        for course_id in course_ids:
            return int(course_id)
    raise AssertionError("the student has no course")


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_dark_mode_and_installing(live_app: tuple[Any, str], simulator: Any,
                                  browser_page: Any, device: str) -> None:
    from playwright.sync_api import expect

    app, site = live_app
    page = browser_page
    viewport = VIEWPORTS[device]
    width = viewport["width"]
    page.set_viewport_size(viewport)
    shots = _shots()
    course_id = _synced_student(app, simulator, device)

    page.emulate_media(color_scheme="light")
    page.goto(f"{site}/login")
    _check_both_themes(page, width, shots, "login", device)
    page.emulate_media(color_scheme="light")
    page.fill("#email", base.EMAIL)
    page.fill("#password", base.PASSWORD)
    page.click("#submit")
    expect(page.locator("h1")).to_contain_text("Your grades")
    _check_both_themes(page, width, shots, "dashboard", device)

    # The system says dark; the student picks light, and it stays light after a reload.
    page.emulate_media(color_scheme="dark")
    toggle = page.locator("[data-theme-toggle]")
    expect(toggle).to_have_text("Light mode")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert not _dark(page)
    assert page.evaluate(CONTRAST) == []
    page.reload()
    assert not _dark(page), "the chosen light theme was not remembered"
    page.locator("[data-theme-toggle]").click()
    assert _dark(page)
    page.reload()
    assert _dark(page)
    page.evaluate("localStorage.removeItem('gradesync-theme')")  # back to following the system

    # A course page, with its chart, in both themes.
    page.goto(f"{site}/courses/{course_id}")
    expect(page.locator("[data-grade-chart]")).to_be_visible()
    _check_both_themes(page, width, shots, "course-chart", device)

    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == base.EMAIL))
        db.session.add_all(NotifyChannel(user_id=user_id, kind=kind, masked=masked,
                                         url_encrypted=b"not read here")
                           for kind, masked in CHANNELS)
        db.session.commit()
    page.goto(f"{site}/settings")
    expect(page.locator("[data-channels]")).to_be_visible()
    for kind, masked in CHANNELS:
        row = page.locator(f"[data-channel-kind={kind}] [data-channel-masked]")
        expect(row).to_have_text(masked)
    expect(page.get_by_role("button", name="Turn on notifications on this device")).to_be_visible()
    expect(page.locator("[data-api-tokens]")).to_be_visible()
    # Checked whole; photographed at the channels (the API tokens follow them, and have their
    # own photograph in the API test).
    page.locator("[data-channels]").evaluate("section => section.scrollIntoView()")
    _check_both_themes(page, width, shots, "settings", device)

    # Installable: the manifest a phone reads, and the worker registered for the whole site.
    href = page.get_attribute("link[rel=manifest]", "href")
    manifest = json.loads(page.request.get(f"{site}{href}").text())
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert page.request.get(f"{site}{icon['src']}").headers["content-type"] == "image/png"
    worker = page.evaluate("""async () => {
        const reg = await navigator.serviceWorker.ready;
        return {scope: reg.scope, script: reg.active && reg.active.scriptURL};
    }""")
    assert worker == {"scope": f"{site}/", "script": f"{site}/sw.js"}

    # Offline: the dashboard comes from the worker and says when its grades are from.
    page.goto(f"{site}/")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()  # now controlled: this load is the one the worker keeps
    expect(page.locator("h1")).to_contain_text("Your grades")
    page.context.set_offline(True)
    try:
        page.reload()
        note = page.locator("[data-offline-note]")
        expect(note).to_be_visible()
        expect(note.locator("[data-as-of]")).to_have_text(re.compile(r"\d{4}|\w{3} \d"))
        expect(page.locator("table.courses")).to_be_visible()
        _check_both_themes(page, width, shots, "dashboard-offline", device)
    finally:
        page.context.set_offline(False)
