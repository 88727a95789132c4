# ruff: noqa: F811  (fixtures are imported from the other console UI tests)
"""An audit that means what it says (issue 26, item 2), in Debian's Chromium.

A guard's live page left open for ten minutes, with pupils passing the camera lane and
their thumbnails appearing in the feed, adds no audit row: the page's own refreshes, the
heartbeat and the thumbnails are not acts. Opening one snapshot adds exactly one row, and
the pupil's access report (console and ``gate people access-report``) lists it.

Ten minutes are not waited for: the page runs on Playwright's clock (every interval the
page has fires as it would in ten minutes), and the gate's session clock is moved with it,
so the heartbeat is what keeps the guard logged in.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from gate.bench.scenes import FACES, background, cut_head, paste
from gate.console.deps import Console
from gate.engine import Decision
from gate.watchlist import listed_photos
from recognition.face_engine import DlibFaceEngine
from recognition.pipeline import FacePipeline
from recognition.worker import Sightings, _with_evidence
from tests.ptys import wait_for
from tests.scenario import Gate
from tests.test_console_evidence_ui import (  # noqa: F401
    SETTINGS,
    camera,
    gate,
    natural_width,
    tap_with_face,
)
from tests.test_console_ui import (  # noqa: F401
    PASSWORDS,
    Watched,
    base,
    browser,
    open_page,
    release_late,
    shot,
    wait_js,
)

pytestmark = pytest.mark.slow


def audit_count(gate: Gate) -> int:
    return int(gate.service.store.query("SELECT COUNT(*) FROM audit_log")[0][0])


def console_of(gate: Gate) -> Console:
    assert gate.service.console is not None
    ctx: Console = gate.service.console.app.state.console
    return ctx


@pytest.fixture()
def session_clock(gate: Gate) -> Iterator[list[float]]:
    """The gate's session clock, moved forward by the test (seconds in ``[0]``)."""
    auth = console_of(gate).auth
    real = auth.clock
    ahead = [0.0]
    auth.clock = lambda: real() + ahead[0]
    try:
        yield ahead
    finally:
        auth.clock = real


def log_in_on_a_fake_clock(browser: Browser, gate: Gate, user: str) -> tuple[Watched, Page]:
    context: BrowserContext = browser.new_context(locale="en", viewport={"width": 1280,
                                                                          "height": 900})
    context.add_init_script("localStorage.setItem('lang', 'en')")
    w = Watched(context)
    page = w.page
    page.clock.install()  # before any script of the console runs
    page.goto(base(gate) + "/")
    page.fill("#login-form input[name=username]", user)
    page.fill("#login-form input[name=password]", PASSWORDS[user])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text(user)
    return w, page


def test_a_live_page_open_ten_minutes_adds_no_audit_row_one_snapshot_adds_one(
        browser: Browser, gate: Gate, camera: DlibFaceEngine,
        session_clock: list[float]) -> None:
    w, page = log_in_on_a_fake_clock(browser, gate, "guard")
    expect(page.locator("#page-live")).to_be_visible()
    expect(page.locator("#feed")).to_be_visible()
    wait_for(lambda: gate.service.store.query(  # the live page's one row, as it opened
        "SELECT 1 FROM audit_log WHERE actor = 'guard' AND action = 'list_viewed'"
        " AND target = 'live'"), what="the live page's list view")
    start = audit_count(gate)
    asked: list[str] = []  # what the page fetched by itself in those ten minutes
    page.on("request", lambda r: asked.append(r.url.split("?")[0].split("/api/", 1)[-1]))
    passages: list[Decision] = []
    for minute in range(10):
        # a pupil passes the camera lane: a feed row with a thumbnail arrives
        passages.append(tap_with_face(gate, camera, "obama"))
        row = f"#feed tr[data-event='{passages[-1].event.id}'] .thumb-btn img"
        wait_js(page, natural_width(row))
        for _ in range(6):  # one minute of the page's intervals, ten seconds at a time
            page.clock.run_for(10_000)
            session_clock[0] += 10
        wait_js(page, "!document.querySelector('#conn-banner') ||"
                      " document.querySelector('#conn-banner').hidden")
        assert audit_count(gate) == start, f"minute {minute + 1}: {new_rows(gate, start)}"
    # the page did refresh itself all along: the queue every 10 s, the heartbeat every minute
    assert asked.count("alerts/queue") >= 55 and asked.count("heartbeat") >= 9, asked
    assert sum(a.endswith("/thumb") for a in asked) >= 10
    # the session is alive ten session-minutes later (the idle limit is 15): the heartbeat
    assert session_clock[0] >= 600
    assert page.evaluate("fetch('/api/me').then(r => r.status)") == 200
    for d in passages:  # every passage of the ten minutes is on the feed, with its picture
        wait_js(page, natural_width(f"#feed tr[data-event='{d.event.id}'] .thumb-btn img"))
    assert audit_count(gate) == start
    # one snapshot opened full size: exactly one row, naming the pupil
    chosen = passages[3].event.id
    page.locator(f"#feed tr[data-event='{chosen}'] .thumb-btn").click()
    dialog = page.locator("#snapshot-dialog")
    expect(dialog).to_be_visible()
    wait_js(page, natural_width("#snapshot-images img[data-part=scene]") + " && "
            + natural_width("#snapshot-images img[data-part=crop]"))
    shot(page, "audit-one-snapshot-opened-en")
    page.locator("#snapshot-dialog button[value=close]").click()
    assert new_rows(gate, start) == [("guard", "snapshot_viewed", chosen)]
    [details] = [json.loads(r[0]) for r in gate.service.store.query(
        "SELECT details FROM audit_log ORDER BY id DESC LIMIT 1")]
    assert details == {"parts": ["crop", "scene"], "person_id": "obama"}
    assert w.errors == [], w.errors
    w.context.close()
    # the pupil's access report lists it: who, when, what
    admin = open_page(browser, gate, "admin", lang="en")
    page = admin.page
    page.goto(base(gate) + "/#people/obama")
    page.locator("button[data-action=access-report]").click()
    report = page.locator("#access-report")
    opened = report.locator("tr[data-action=snapshot_viewed]")
    expect(opened.first).to_contain_text("guard")
    expect(opened.first).to_contain_text(chosen)
    expect(opened.first).to_contain_text("snapshot viewed")
    expect(report.locator("tr[data-action=list_viewed]").first).to_contain_text(
        "shown on the Live list")
    expect(report.locator("tr[data-action=person_viewed]").first).to_contain_text("admin")
    shot(page, "audit-access-report-en")
    api = page.evaluate("fetch('/api/people/obama/access-report').then(r => r.json())")
    assert next((r["actor"], r["target"]) for r in api
                if r["action"] == "snapshot_viewed") == ("guard", chosen)
    assert admin.errors == [], admin.errors
    admin.context.close()


def new_rows(gate: Gate, after_count: int) -> list[tuple[str, str, str]]:
    rows = gate.service.store.query("SELECT actor, action, target FROM audit_log ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows[after_count:]]


# --- plates and listings (item 5) -------------------------------------------------------------

def test_registering_a_registered_plate_asks_first_and_a_listing_needs_a_reason(
        browser: Browser, gate: Gate) -> None:
    store = gate.service.store
    w = open_page(browser, gate, "admin", lang="en")
    page = w.page
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        route.continue_() if held else held.append(route)

    page.route("**/api/watchlists", hold_the_first)  # the lists are slow to come
    page.goto(base(gate) + "/#vehicles")
    form = page.locator("#veh-add")

    def register(plate: str, owner: str, note: str) -> None:
        form.locator("input[name=plate]").fill(plate)
        form.locator("input[name=owner_id]").fill(owner)
        form.locator("input[name=note]").fill(note)
        form.locator("button").click()

    # the admin registers before the lists have arrived: the form is wired already (it used to
    # submit natively and reload the page), and the late first load does not draw over the new
    with page.expect_response(lambda r: r.url.endswith("/api/vehicles")
                              and r.request.method == "POST") as posted:
        register("京B·54321", "obama", "blue sedan")
    assert posted.value.ok
    expect(page.locator("#veh-table")).to_contain_text("Obama")
    assert len(held) == 1
    release_late(page, held[0])
    page.unroute("**/api/watchlists")
    expect(page.locator("#veh-table")).to_contain_text("Obama")
    asked: list[str] = []

    def answer(yes: bool) -> None:
        def on_dialog(d: Any) -> None:
            asked.append(d.message)
            d.accept() if yes else d.dismiss()
        page.once("dialog", on_dialog)

    answer(False)  # the admin is shown whose it is, and keeps it
    register("京B54321", "biden", "white van")
    expect(form.locator(".out")).to_have_text("Not replaced: the registration of 京B54321 stays"
                                              " as it was")
    assert "Obama" in asked[0] and "blue sedan" in asked[0]
    [row] = store.query("SELECT owner_id, note FROM vehicles WHERE plate = '京B54321'")
    assert tuple(row) == ("obama", "blue sedan")
    answer(True)  # ... or replaces it, and the audit keeps what was replaced
    register("京B54321", "biden", "white van")
    expect(page.locator("#veh-table")).to_contain_text("Biden")
    [row] = store.query("SELECT owner_id, note FROM vehicles WHERE plate = '京B54321'")
    assert tuple(row) == ("biden", "white van")
    [audit] = store.query("SELECT actor, details FROM audit_log WHERE action ="
                          " 'vehicle_replaced' AND target = '京B54321'")
    assert audit["actor"] == "admin"
    assert json.loads(audit["details"])["was"]["owner_id"] == "obama"
    # a listing reason of spaces is no reason: refused, in words
    listing = page.locator("#wl-add-plate")
    listing.locator("input[name=plate]").fill("京C11111")
    listing.locator("input[name=reason]").fill("   ")
    listing.locator("button").click()
    expect(listing.locator(".out")).to_contain_text("a listing needs a reason")
    person = page.locator("#wl-add-person")
    person.locator("input[name=name]").fill("Zhang San")
    person.locator("input[name=reason]").fill(" ")
    person.locator("button").click()
    expect(person.locator(".out")).to_contain_text("a listing needs a reason")
    assert store.query("SELECT COUNT(*) FROM watchlist_plates")[0][0] == 0
    assert store.query("SELECT COUNT(*) FROM watchlist_persons")[0][0] == 0
    shot(page, "vehicles-reason-required-en")
    # the refusals themselves (409: ask first; 422: no reason) are the only browser errors
    assert [e for e in w.errors if "status of 409" not in e and "status of 422" not in e
            ] == [], w.errors
    w.context.close()


# --- a watch-list hit shows who (item 4) ------------------------------------------------------

LISTED_NAME = "Barack H. Obama（在逃）"


def test_a_watch_list_hit_shows_who_is_listed_and_the_listed_photo(
        browser: Browser, gate: Gate, camera: DlibFaceEngine) -> None:
    service = gate.service
    photo = base64.b64encode((FACES / "train/obama/obama2.jpg").read_bytes()).decode()
    service.on_watchlist("police-7", json.dumps({
        "schema": "campus-gate/watchlist/1", "list": "police-7", "version": "2026-12-01",
        "persons": [{"id": "P0042", "name": LISTED_NAME, "reason": "custody order, do not"
                     " release a child to him", "photos": [photo]}]}).encode())
    # the listed photo is kept, sealed like every face: it does not lie in clear on disk
    [(blob,)] = service.store.query("SELECT photo FROM watchlist_photos")
    assert listed_photos(service.store, "police-7", "P0042")[0] == base64.b64decode(photo)
    assert service.store.encrypted is False or bytes(blob) != base64.b64decode(photo)
    guard = open_page(browser, gate, "guard", lang="en")
    page = guard.page
    expect(page.locator("#page-live")).to_be_visible()
    # his face passes the gate camera (a new track, so it is screened)
    frame = paste(background(), cut_head(camera, "test/obama1.jpg", "obama"), 640, 330, 190)
    faces = tuple(replace(f, track_id=7001) for f in FacePipeline(
        camera, service.engine.gallery).process(frame, time.monotonic()))
    service.engine.on_sightings(_with_evidence(
        Sightings("gate-cam", 1, time.monotonic(), faces), frame, SETTINGS))
    [hit] = service.store.query("SELECT id, snapshot, details FROM alerts WHERE type ="
                                " 'watchlist_face'")
    details = json.loads(hit["details"])
    assert (details["name"], details["list"], details["entry_id"]) == (
        LISTED_NAME, "police-7", "P0042")
    assert hit["snapshot"] and details["match"] in ("very_close", "close", "borderline")
    alert = page.locator(f".alert[data-alert='{hit['id']}']")
    # the queue says who is listed, from which list, why, and how close in words
    expect(alert).to_contain_text(f"Listed: {LISTED_NAME} (police-7)", timeout=15000)
    expect(alert).to_contain_text("custody order")
    words = {"very_close": "very similar", "close": "similar", "borderline": "only just"}
    expect(alert).to_contain_text(f"{words[details['match']]} (distance {details['distance']})")
    before = audit_count(gate)
    alert.locator("button.compare").click()
    dialog = page.locator("#watch-dialog")
    expect(dialog).to_be_visible()
    wait_js(page, natural_width("#watch-images img[data-part=listed]") + " && "
            + natural_width("#watch-images img[data-part=captured]"))
    expect(page.locator("#watch-who")).to_contain_text(LISTED_NAME)
    shot(page, "watchlist-hit-compare-en")
    page.locator("#watch-dialog button[value=close]").click()
    expect(dialog).to_be_hidden()
    # opened deliberately: one audit row, naming the listing, the alert and the snapshot
    assert new_rows(gate, before) == [("guard", "watchlist_photo_viewed", "police-7/P0042")]
    [row] = service.store.query("SELECT details FROM audit_log ORDER BY id DESC LIMIT 1")
    assert json.loads(row[0]) == {"alert": hit["id"], "snapshot": hit["snapshot"],
                                  "photos": 1}
    assert guard.errors == [], guard.errors
    guard.context.close()
