# ruff: noqa: F811  (the browser fixture is imported from tests/test_console_ui.py)
"""Evidence and privacy in the guard console (issue 15, items 2-5), in Debian's Chromium:
an alert raised from a camera frame shows its thumbnail and opens the full snapshot; the
event review filters and pages; a person's page shows their passages with thumbnails and
an admin erases them from it; the privacy page and the not-encrypted banner; the audit
log filtered, with actions in words.

One gate (a camera lane whose frames the test hands to the engine, as tests/test_evidence.py
does: the same worker code cuts the evidence, without a worker process) and one browser
for the module.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Route, expect

from gate.bench.scenes import FACES, background, cut_head, paste
from gate.broker import free_port
from gate.config import parse_config
from gate.console.auth import add_user
from gate.engine import Decision
from gate.privacy import CLASSES
from gate.service import Service
from recognition.face_engine import DlibFaceEngine
from recognition.pipeline import FacePipeline
from recognition.snapshot import SnapshotSettings
from recognition.worker import Sightings, _with_evidence
from tests.ptys import PtyPort, wait_for
from tests.scenario import Gate, seed_people
from tests.test_console_ui import (  # noqa: F401
    PASSWORDS,
    base,
    browser,
    open_page,
    release_late,
    shot,
    wait_js,
)

pytestmark = pytest.mark.slow
SETTINGS = SnapshotSettings(quality=70, max_width=480, max_bytes=40_000, crop_max_width=160)


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    data = tmp_path_factory.mktemp("evidence-ui") / "data"
    seed_people(data, FACES)
    ptys = {name: PtyPort() for name in ("L1-in", "L1-out")}
    raw: dict[str, Any] = {
        "site": "test", "gate": "main", "data_dir": str(data),
        "console": {"enabled": True, "bind": f"127.0.0.1:{free_port()}"},
        "cameras": [{"id": "gate-cam", "source": 0, "role": "gate"}],
        "lanes": [{"id": "L1", "camera": "gate-cam", "readers": [
            {"id": "L1-in", "port": ptys["L1-in"].path, "direction": "entry", "holdoff_ms": 0},
            {"id": "L1-out", "port": ptys["L1-out"].path, "direction": "exit",
             "holdoff_ms": 0}]}],
        "calendar": {"lessons": [], "late_after": "23:59:59",
                     "school_days": [1, 2, 3, 4, 5, 6, 7]},
        "rules": {"anti_passback": "off"}}
    service = Service(parse_config(raw), data)
    service.recognition_jobs = []  # the test hands the engine its frames
    service.start()
    try:
        wait_for(lambda: all(r.health.connected for r in service.readers), what="readers")
        for user in ("admin", "guard"):
            add_user(service.store, user, PASSWORDS[user], user)
        add_user(service.store, "wang", PASSWORDS["wang"], "host", "staff")
        yield Gate(service, ptys)
    finally:
        service.stop()
        for p in ptys.values():
            p.close()


@pytest.fixture(scope="module")
def camera() -> DlibFaceEngine:
    return DlibFaceEngine()


def tap_with_face(gate: Gate, camera: DlibFaceEngine, person: str) -> Decision:
    """A card tapped while the gate camera's frame has Obama's face in it, the evidence cut
    as the worker cuts it (a new track each time, so the face is encoded and cut again)."""
    frame = paste(background(), cut_head(camera, "test/obama1.jpg", "obama"), 640, 330, 190)
    faces = tuple(FacePipeline(camera, gate.service.engine.gallery).process(
        frame, time.monotonic()))
    assert faces and faces[0].encoded_now
    gate.service.engine.on_sightings(_with_evidence(
        Sightings("gate-cam", 1, time.monotonic(), faces), frame, SETTINGS))
    return gate.tap(person)


def natural_width(selector: str) -> str:
    return f"(document.querySelector({json.dumps(selector)})?.naturalWidth || 0) > 0"


def audited_views(gate: Gate, snapshot: str, actor: str) -> list[list[str]]:
    """The parts each audited opening of the snapshot showed (one row per opening)."""
    return [json.loads(r[0])["parts"] for r in gate.service.store.query(
        "SELECT details FROM audit_log WHERE action = 'snapshot_viewed' AND target = ?"
        " AND actor = ? ORDER BY id", (snapshot, actor))]


# --- thumbnails on alerts and passages -------------------------------------------------------

def test_an_alert_from_a_camera_frame_shows_its_thumbnail_and_the_full_snapshot(
        browser: Browser, gate: Gate, camera: DlibFaceEngine) -> None:
    w = open_page(browser, gate, "guard")
    page = w.page
    expect(page.locator("#page-live")).to_be_visible()
    d = tap_with_face(gate, camera, "biden")  # Biden's card, Obama's face
    assert d.alert is not None and d.alert.type == "card_face_mismatch"
    assert d.alert.snapshot == d.event.id
    alert = page.locator(f".alert[data-alert='{d.alert.id}']")
    expect(alert).to_contain_text("人卡不符", timeout=10000)
    thumb = f".alert[data-alert='{d.alert.id}'] .thumb-btn[data-snapshot='{d.event.id}'] img"
    wait_js(page, natural_width(thumb))
    # the passage in the feed has it too
    row = f"#feed tr[data-event='{d.event.id}'] .thumb-btn img"
    wait_js(page, natural_width(row))
    shot(page, "evidence-alert-thumbnail-zh-CN")
    # the full picture: the scene and the face close-up, one audited act; the thumbnails
    # (the alert's and the feed's) were not audited
    assert audited_views(gate, d.event.id, "guard") == []
    alert.locator(".thumb-btn").click()
    dialog = page.locator("#snapshot-dialog")
    expect(dialog).to_be_visible()
    wait_js(page, natural_width("#snapshot-images img[data-part=scene]")
            + " && " + natural_width("#snapshot-images img[data-part=crop]"))
    scene_w = page.evaluate("document.querySelector('#snapshot-images img[data-part=scene]')"
                            ".naturalWidth")
    assert scene_w == SETTINGS.max_width
    shot(page, "evidence-snapshot-overlay-zh-CN")
    page.locator("#snapshot-dialog button[value=close]").click()
    expect(dialog).to_be_hidden()
    assert audited_views(gate, d.event.id, "guard") == [["crop", "scene"]]  # who, at what
    # the queue is redrawn (every 10 s, or on a filter): its thumbnail is the same element,
    # not a new picture fetched and audited again
    page.evaluate(f"document.querySelector({json.dumps(thumb)}).dataset.kept = 'yes'")
    page.evaluate("document.querySelector('#alert-filter-text').dispatchEvent("
                  "new Event('input'))")
    assert page.evaluate(f"document.querySelector({json.dumps(thumb)}).dataset.kept") == "yes"
    assert w.errors == [], w.errors
    w.context.close()


# --- event review ----------------------------------------------------------------------------

def test_review_filters_by_day_lane_type_and_person_and_pages(
        browser: Browser, gate: Gate, camera: DlibFaceEngine) -> None:
    passage = tap_with_face(gate, camera, "obama")  # Obama's card and face: a camera passage
    assert passage.opened and passage.event.snapshot == passage.event.id
    for i in range(60):
        gate.service.engine.manual_open("L1", "guard", f"review drill {i:02d}")
    w = open_page(browser, gate, "guard", lang="en")
    page = w.page
    page.goto(base(gate) + "/#review")
    expect(page.locator("#review-table table")).to_be_visible()
    form = page.locator("#review-form")
    # by type: 50 manual opens a page, then the older ones
    form.locator("select[name=type]").select_option("manual_open")
    form.locator("button").click()
    rows = page.locator("#review-table tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("review drill 59")
    expect(page.locator("#review-more")).to_be_visible()
    page.click("#review-more")
    expect(rows).to_have_count(60)
    expect(rows.last).to_contain_text("review drill 00")
    expect(page.locator("#review-more")).to_be_hidden()
    # by person, with a snapshot: Obama's camera passage, with its thumbnail
    form.locator("select[name=type]").select_option("")
    form.locator("input[name=person]").fill("obama")
    form.locator("input[name=with_snapshot]").check()
    form.locator("button").click()
    expect(page.locator(f"#review-table tr[data-event='{passage.event.id}']")).to_be_visible()
    for text in page.locator("#review-table tbody tr").all_inner_texts():
        assert "Obama" in text
    wait_js(page, natural_width(f"tr[data-event='{passage.event.id}'] .thumb-btn img"))
    shot(page, "evidence-review-en")
    # by lane and day: another lane, or yesterday, has nothing. The answer to the lane filter
    # is held back until the day filter's has been drawn: late, it must not draw over it
    held: list[Route] = []

    def lane_only(url: str) -> bool:
        return "/api/review?" in url and "lane=L1" in url and "day=" not in url

    def hold(route: Route) -> None:
        held.append(route)

    page.route(lane_only, hold)
    form.locator("select[name=lane]").select_option("L1")
    form.locator("button").click()
    yesterday = (gate.service.store.now() - dt.timedelta(days=1)).date().isoformat()
    form.locator("input[name=day]").fill(yesterday)
    form.locator("button").click()
    expect(page.locator("#review-none")).to_have_text("No passage matches")
    assert len(held) == 1
    release_late(page, held[0])
    page.unroute(lane_only)
    expect(page.locator("#review-none")).to_have_text("No passage matches")
    expect(page.locator(f"#review-table tr[data-event='{passage.event.id}']")).to_have_count(0)
    form.locator("input[name=day]").fill("")  # and the lane alone has the passage
    form.locator("button").click()
    expect(page.locator(f"#review-table tr[data-event='{passage.event.id}']")).to_be_visible()
    # a person's page links to their review
    page.goto(base(gate) + "/#review/biden")
    expect(page.locator("#review-form input[name=person]")).to_have_value("biden")
    assert w.errors == [], w.errors
    w.context.close()


# --- privacy page and banner -----------------------------------------------------------------

def test_privacy_page_and_the_not_encrypted_banner(browser: Browser, gate: Gate) -> None:
    assert not gate.service.store.encrypted  # no key configured: the banner's case
    admin = open_page(browser, gate, "admin")
    page = admin.page
    banner = page.locator("#privacy-banner")
    for where in ("live", "people", "review", "devices"):  # every page, for admins
        page.goto(base(gate) + f"/#{where}")
        expect(page.locator(f"#page-{where}")).to_be_visible()
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("生物特征数据未加密")
    page.goto(base(gate) + "/#privacy")
    expect(page.locator("#privacy-encrypted")).to_have_text("生物特征未加密")
    table = page.locator("#privacy-table")
    expect(table.locator("tbody tr")).to_have_count(len(CLASSES))
    retention = gate.service.config.retention
    expect(table.locator("tr[data-class=snapshots]")).to_contain_text(
        f"{retention.snapshots_days} 天")
    events = table.locator("tr[data-class=events]")
    expect(events).to_contain_text("通行记录")
    last_purge = events.locator("td").nth(4)
    # The service purges 30 s after its start, then hourly. The purge log only grows: empty
    # now, it was empty when the page was drawn, which then says "not purged yet".
    if not gate.service.store.query("SELECT 1 FROM purge_log WHERE class = 'events'"):
        expect(last_purge).to_have_text("尚未清除")
    gate.service.apply_retention()  # a purge: the page says when, and that nothing was due
    page.reload()
    [(ran, removed)] = gate.service.store.query(
        "SELECT last_run, removed FROM purge_log WHERE class = 'events'")
    expect(last_purge).to_have_text(ran[:16].replace("T", " "))
    expect(events.locator("td").nth(5)).to_have_text(str(removed))
    [(oldest,)] = gate.service.store.query("SELECT MIN(ts) FROM events")
    expect(table.locator("tr[data-class=events]")).to_contain_text(
        oldest[:16].replace("T", " "))
    shot(page, "evidence-privacy-zh-CN")
    assert admin.errors == [], admin.errors
    admin.context.close()
    # a guard: not on the live page, but on the devices page; the privacy page is for admins
    guard = open_page(browser, gate, "guard", lang="en")
    page = guard.page
    expect(page.locator("#page-live")).to_be_visible()
    assert page.evaluate("fetch('/api/me').then(r => r.json())")["biometrics_encrypted"] is False
    expect(page.locator("#privacy-banner")).to_be_hidden()
    page.goto(base(gate) + "/#devices")
    expect(page.locator("#privacy-banner")).to_contain_text("Biometrics are NOT encrypted")
    expect(page.locator("#privacy-banner-link")).to_be_hidden()
    shot(page, "evidence-devices-banner-en")
    page.goto(base(gate) + "/#privacy")
    expect(page.locator("#page-forbidden")).to_be_visible()
    expect(page.locator("#nav a[href='#privacy']")).to_be_hidden()
    # the perimeter view is one click away for guards (and admins); not for a host
    link = page.locator("#nav-perimeter")
    expect(link).to_be_visible()
    link.click()
    page.wait_for_url("**/static/perimeter.html")
    expect(page.locator("#status")).to_contain_text("No perimeter camera")
    assert guard.errors == [], guard.errors
    guard.context.close()
    host = open_page(browser, gate, "wang")
    expect(host.page.locator("#nav-perimeter")).to_be_hidden()
    expect(host.page.locator("#privacy-banner")).to_be_hidden()
    host.context.close()


# --- a person's passages and erasure ---------------------------------------------------------

def test_person_page_passages_with_thumbnails_and_erasure_by_an_admin(
        browser: Browser, gate: Gate, camera: DlibFaceEngine) -> None:
    store = gate.service.store
    passage = tap_with_face(gate, camera, "obama")
    w = open_page(browser, gate, "admin")
    page = w.page
    page.goto(base(gate) + "/#people/obama")
    expect(page.locator("#person h2")).to_contain_text("Obama")
    row = f"#person-passages tr[data-event='{passage.event.id}']"
    expect(page.locator(row)).to_be_visible()
    wait_js(page, natural_width(f"{row} .thumb-btn img"))
    shot(page, "evidence-person-zh-CN")
    snapshots = store.query("SELECT COUNT(*) FROM snapshots WHERE person_id = 'obama'")[0][0]
    assert snapshots >= 2
    # the confirm dialog needs a reason; cancel leaves everything in place
    page.click("button[data-action=erase]")
    dialog = page.locator("#erase-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Obama")
    page.click("#erase-form button[value=ok]")
    expect(page.locator("#erase-error")).to_have_text("请填写原因（至少 2 个字）")
    page.click("#erase-form button[value=cancel]")
    expect(dialog).to_be_hidden()
    assert store.get_person("obama") is not None
    page.click("button[data-action=erase]")
    page.fill("#erase-form input[name=reason]", "家长书面申请删除")
    shot(page, "evidence-erase-dialog-zh-CN")
    page.click("#erase-form button[value=ok]")
    expect(dialog).to_be_hidden()
    result = page.locator("#erase-result")
    expect(result.locator("li[data-removed=encodings]")).to_have_text("人脸特征：1 个")
    expect(result.locator("li[data-removed=snapshots]")).to_have_text(f"抓拍：{snapshots} 张")
    expect(result.locator("li[data-removed=passages_anonymised]")).to_be_visible()
    shot(page, "evidence-erased-zh-CN")
    assert store.get_person("obama") is None
    assert store.query("SELECT person_id FROM events WHERE id = ?",
                       (passage.event.id,))[0][0] is None  # the passage stays, anonymous
    assert store.query("SELECT COUNT(*) FROM snapshots WHERE id = ?",
                       (passage.event.id,))[0][0] == 0
    erased = store.query("SELECT actor, action, details FROM audit_log WHERE target = 'obama'"
                         " AND action IN ('person_erased', 'erasure_reason') ORDER BY id")
    assert [(r[0], r[1]) for r in erased] == [("admin", "person_erased"),
                                              ("admin", "erasure_reason")]
    assert json.loads(erased[1][2])["reason"] == "家长书面申请删除"
    assert w.errors == [], w.errors
    w.context.close()


# --- audit log -------------------------------------------------------------------------------

def test_audit_view_filters_with_actions_in_words_read_only(browser: Browser,
                                                             gate: Gate) -> None:
    w = open_page(browser, gate, "admin", lang="en")
    page = w.page
    page.goto(base(gate) + "/#audit")
    rows = page.locator("#audit-table tbody tr")
    expect(rows.first).to_be_visible()
    form = page.locator("#audit-form")
    form.locator("select[name=action]").select_option("person_erased")
    form.locator("button").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("person erased")
    expect(rows.first).to_contain_text("admin")
    expect(rows.first).to_contain_text("obama")
    # who looked at which picture: the guard's snapshot views
    form.locator("select[name=action]").select_option("snapshot_viewed")
    form.locator("input[name=actor]").fill("guard")
    form.locator("button").click()
    expect(rows.first).to_contain_text("snapshot viewed")
    for text in rows.all_inner_texts():
        assert "guard" in text
    # by target: everything about one person
    form.locator("select[name=action]").select_option("")
    form.locator("input[name=actor]").fill("")
    form.locator("input[name=target]").fill("obama")
    form.locator("button").click()
    expect(page.locator("#audit-table tr[data-action=erasure_reason]")).to_contain_text(
        "reason for an erasure")
    expect(page.locator("#audit-table tr[data-action=person_viewed]").first).to_be_visible()
    shot(page, "evidence-audit-en")
    # read-only: nothing in the page edits or deletes, and a guard cannot read it
    assert page.locator("#page-audit button.danger, #page-audit [data-delete]").count() == 0
    assert w.errors == [], w.errors
    w.context.close()
    guard = open_page(browser, gate, "guard")
    assert guard.page.evaluate("fetch('/api/audit/search').then(r => r.status)") == 403
    guard.page.goto(base(gate) + "/#audit")
    expect(guard.page.locator("#page-forbidden")).to_be_visible()
    guard.context.close()
