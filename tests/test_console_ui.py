"""The console a guard works from all day (issue 16), in Debian's Chromium: alarms whatever
the session state, the live page at 800 px, the visitor desk end to end with a host on a
phone, every page in both languages without one console error, CSV downloads.

One running gate and one browser for the whole module; the lost-connection test kills a
``gate run`` child process of its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Route,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from gate.bench.scenes import FACES
from gate.broker import free_port
from gate.console.auth import add_user
from gate.demo import em4100_frame
from gate.reports import ATTENDANCE_COLUMNS, BOM, VISITOR_COLUMNS
from gate.store import Store
from gate.visitors import Registration
from gate.vocab import AlertType, Severity
from tests.conftest import GATE, ROOT, TZ, real_clock_env
from tests.ptys import wait_for
from tests.scenario import Gate, console_gate_config, running_gate
from tests.test_console import CHROMIUM

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "test-artifacts"
PASSWORDS = {"admin": "admin-password-1", "guard": "guard-password-1",
             "wang": "host-password-1"}
LISTED_ID = "11010519491231002X"
FULL_WIDTH_ID = "１１０１０５１９４９１２３１００２X"
PAGES = {"live": "#feed", "rollcall": "#rollcall h2", "visitors": "#visitor-form",
         "people": "#people-list table", "attendance": "#att-table table",
         "vehicles": "#wl-table table", "map": "#map-box img", "devices": "#devices-table table",
         "users": "#users-table table", "audit": "#audit-table table",
         "review": "#review-table table, #review-none", "privacy": "#privacy-table table"}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    port = free_port()
    with running_gate(tmp_path_factory.mktemp("ui"), FACES,
                      console={"enabled": True, "bind": f"127.0.0.1:{port}",
                               "school_name": "实验中学"},
                      visitors={"keep_photo": True}) as g:  # the pass shows the photo
        store = g.service.store
        add_user(store, "admin", PASSWORDS["admin"], "admin")
        add_user(store, "guard", PASSWORDS["guard"], "guard")
        add_user(store, "wang", PASSWORDS["wang"], "host", "staff")
        yield g


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, env=real_clock_env(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
            # a desk camera for getUserMedia: Chromium's own test pattern, permission granted
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        yield b
        b.close()


def base(gate: Gate) -> str:
    assert gate.service.console is not None
    return f"http://localhost:{gate.service.console.port}"


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))


def open_page(browser: Browser, gate: Gate, user: str, lang: str = "zh-CN",
              viewport: dict[str, int] | None = None) -> Watched:
    context = browser.new_context(locale=lang, viewport=viewport or {"width": 1280,
                                                                      "height": 900})
    context.add_init_script(f"localStorage.setItem('lang', '{lang}')")
    w = Watched(context)
    w.page.goto(base(gate) + "/")
    w.page.fill("#login-form input[name=username]", user)
    w.page.fill("#login-form input[name=password]", PASSWORDS[user])
    w.page.click("#login-form button[type=submit]")
    expect(w.page.locator("#who")).to_contain_text(user)
    return w


def wait_js(page: Page, expression: str, timeout: float = 10) -> None:
    """Poll an expression in the page. (``wait_for_function`` polls through ``eval``, which
    the console's Content-Security-Policy rightly refuses.)"""
    wait_for(lambda: bool(page.evaluate(expression)), timeout=timeout, what=expression)


def release_late(page: Page, held: Route) -> None:
    """Let a held-back answer through and wait until the page has had its turn to draw it
    (the answer read whole, then one task of the page's own), as a slow network would."""
    with page.expect_response(lambda r: r.request == held.request) as late:
        held.continue_()
    late.value.finished()
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def big_phone_photo(path: Path) -> Path:
    """A 4000 px, ~3.9 MB JPEG with a real face in it, as a phone would take it."""
    face = Image.open(FACES / "train/biden/biden.jpg").convert("RGB")
    big = face.resize((4000, int(4000 * face.height / face.width)), Image.Resampling.BICUBIC)
    noise = Image.effect_noise(big.size, 40).convert("RGB")
    Image.blend(big, noise, 0.12).save(path, "JPEG", quality=97)
    return path


# --- live page -------------------------------------------------------------------------------

def test_a_passage_made_while_the_live_socket_was_away_is_on_the_feed_once_it_is_back(
        browser: Browser, gate: Gate) -> None:
    """The feed is the page's first load plus what the WebSocket brings. A passage made in
    between (the socket still opening on a slow machine, or away through a restart) was
    missing until the guard reloaded the page (seen failing in a full run)."""
    sockets: list[WebSocketRoute] = []

    def first_away_then_real(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        if len(sockets) > 1:
            ws.connect_to_server()  # the first stays with the test: nothing reaches the page

    before: list[Any] = []  # the feed as it was answered before the passage
    back = [False]

    def answered_before_the_passage(route: Route) -> None:
        if back[0]:
            route.continue_()
            return
        if not before:
            before.append(route.fetch().json())
        route.fulfill(json=before[0])

    context = browser.new_context(locale="en")
    context.add_init_script("localStorage.setItem('lang', 'en')")
    context.route_web_socket("**/api/live", first_away_then_real)
    w = Watched(context)
    page = w.page
    page.route("**/api/events?*", answered_before_the_passage)
    page.goto(base(gate) + "/")
    page.fill("#login-form input[name=username]", "guard")
    page.fill("#login-form input[name=password]", PASSWORDS["guard"])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#page-live")).to_be_visible()
    expect(page.locator("#conn")).to_have_text("connected")
    wait_for(lambda: page.evaluate("true") and before, timeout=15, what="the feed's first load")
    passage = gate.tap("kit_harington")  # the page hears nothing of it
    row = page.locator(f"#feed tr[data-event='{passage.event.id}']")
    expect(row).to_have_count(0)
    assert passage.event.id not in {e["id"] for e in before[0]}
    back[0] = True
    sockets[0].close()  # the socket drops; the page opens a new one, to the gate this time
    expect(row).to_contain_text("Kit_Harington")
    expect(row).to_have_count(1)
    assert len(sockets) == 2
    gate.tap("kit_harington")  # and what comes over the new socket goes on top
    expect(page.locator("#feed tbody tr").first).not_to_have_attribute(
        "data-event", passage.event.id)
    assert w.errors == [], w.errors
    context.close()


def test_live_page_at_800px_grouped_alerts_bulk_ack_bounded_feed(browser: Browser,
                                                                  gate: Gate) -> None:
    w = open_page(browser, gate, "guard", viewport={"width": 800, "height": 1200})
    page = w.page
    engine = gate.service.engine
    expect(page.locator("#page-live")).to_be_visible()
    gate.tap("obama")
    expect(page.locator("#feed tbody tr", has_text="Obama").first).to_be_visible()
    expect(page.locator("#feed tbody tr", has_text="Obama").first).to_contain_text("刷卡")
    # an unknown card tapped five times is one group of five, not five alerts
    store = gate.service.store
    for i in range(5):
        gate.ptys["L1-in"].write(em4100_frame("6200000777"))
        wait_for(lambda i=i: store.query("SELECT COUNT(*) FROM alerts WHERE type ="
                                         " 'unknown_card'")[0][0] == i + 1, timeout=10,
                 what="an unknown_card alert")
        time.sleep(0.25)  # the reader ignores the same card again within its 200 ms hold-off
    group = page.locator(".alert[data-count='5']", has_text="未登记的卡")
    expect(group).to_be_visible(timeout=5000)
    expect(group).to_contain_text("×5")
    # a flood of info alerts (as the demo raised them) and one critical: critical first
    for i in range(30):
        engine.raise_alert(AlertType.DEVICE_ONLINE, Severity.INFO, None, {"device": f"cam-{i}"})
    engine.raise_alert(AlertType.TAILGATING, Severity.CRITICAL, "L1",
                       {"people": 2, "authorised": 1})
    first = page.locator("#alerts-open .alert").first
    expect(first).to_have_class("alert critical", timeout=5000)
    expect(first).to_contain_text("尾随通行")
    # the lane button stays on the first screen of an 800 px tablet, alerts or not
    button = page.locator("button[data-lane=L1]")
    expect(button).to_be_in_viewport()
    page.mouse.wheel(0, 2000)
    expect(button).to_be_in_viewport()
    shot(page, "live-800px-zh-CN")
    # an acknowledgement without a note says so, and nothing is acknowledged
    group.locator("button.ack").click()
    expect(group.locator(".ack-out")).to_have_text("请填写处理说明")
    assert gate.service.store.query("SELECT COUNT(*) FROM alerts WHERE type = 'unknown_card'"
                                    " AND acknowledged_at IS NULL")[0][0] == 5
    group.locator("input.ack-note").fill("卡片已收回")
    group.locator("button.ack").click()
    expect(page.locator(".toast.ok", has_text="已确认 5 条告警")).to_be_visible()
    expect(group).to_have_count(0)
    # bulk acknowledgement of the low-severity ones: the critical one stays
    page.select_option("#bulk-form select", "info")
    page.click("#bulk-form button")
    expect(page.locator("#bulk-out")).to_have_text("请填写处理说明")
    page.fill("#bulk-form input[name=note]", "设备恢复，已核对")
    page.click("#bulk-form button")
    expect(page.locator("#bulk-out")).to_be_empty()
    expect(page.locator("#alerts-open .alert.info")).to_have_count(0)
    expect(page.locator("#alerts-open .alert.critical")).to_have_count(1)
    audit = gate.service.store.query("SELECT actor, details FROM audit_log WHERE action ="
                                     " 'alerts_bulk_acknowledged'")
    assert audit[0][0] == "guard" and json.loads(audit[0][1])["count"] >= 30
    # manual open: a one-character reason keeps the dialog open and says why; "送药" opens
    button.click()
    page.fill("#open-form input[name=reason]", " x ")
    page.click("#open-form button[value=ok]")
    expect(page.locator("#open-error")).to_have_text("请填写原因（至少 2 个字）")
    expect(page.locator("#open-dialog")).to_be_visible()
    page.fill("#open-form input[name=reason]", "送药")
    page.click("#open-form button[value=ok]")
    expect(page.locator(".toast.ok", has_text="L1 已开闸")).to_be_visible()
    expect(page.locator("#open-dialog")).to_be_hidden()
    # the feed is bounded: 120 more decisions leave at most 100 rows
    for i in range(120):
        engine.manual_open("L1", "guard", f"drill {i:03d}")
    expect(page.locator("#feed tbody tr", has_text="drill 119")).to_be_visible(timeout=10000)
    assert page.locator("#feed tbody tr").count() == 100
    page.mouse.wheel(0, -5000)
    shot(page, "live-800px-after-flood")
    assert w.errors == []
    w.context.close()


def test_police_acknowledgement_is_shown(browser: Browser, gate: Gate) -> None:
    d = gate.service.engine.raise_alert(AlertType.WATCHLIST_PLATE, Severity.CRITICAL, "L1",
                                        {"plate": "京A12345", "reason": "盗抢车辆"})
    with gate.service.store.transaction() as db:
        db.execute("UPDATE alerts SET police_ack_at = ?, police_ack_by = ?, police_ack_note = ?"
                   " WHERE id = ?", (gate.service.store.now().isoformat(), "派出所 王警官",
                                     "已出警", d.alerts[0].id))
    w = open_page(browser, gate, "guard", lang="en")
    w.page.locator("details summary").click()
    expect(w.page.locator("#handled")).to_contain_text("police acknowledged 派出所 王警官: 已出警")
    alert = w.page.locator(".alert.critical", has_text="watch-list plate")
    expect(alert).to_contain_text("京A12345")
    expect(alert).to_contain_text("Listing reason: 盗抢车辆")
    assert w.errors == []
    w.context.close()


# --- visitor desk ----------------------------------------------------------------------------

def test_visitor_flow_end_to_end(browser: Browser, gate: Gate, tmp_path: Path) -> None:
    store = gate.service.store
    admin = open_page(browser, gate, "admin")
    # a local watch-list entry: validated, de-duplicated, shown masked with its reason
    admin.page.goto(base(gate) + "/#vehicles")
    form = admin.page.locator("#wl-add-person")
    form.locator("input[name=name]").fill("张三")
    form.locator("input[name=id_number]").fill(LISTED_ID)
    form.locator("input[name=reason]").fill("法院禁止令")
    form.locator("button").click()
    expect(admin.page.locator("#wl-persons")).to_contain_text("110105********002X")
    expect(admin.page.locator("#wl-persons")).to_contain_text("法院禁止令")
    form.locator("input[name=name]").fill("张三")
    form.locator("input[name=id_number]").fill(LISTED_ID)
    form.locator("input[name=reason]").fill("again")
    form.locator("button").click()
    expect(form.locator(".out")).to_contain_text("名单中已有该条目")
    assert w_count(store, "watchlist_persons") == 1
    # a local plate: full-width input normalised, a repeat refused, deletion audited
    plates = admin.page.locator("#wl-add-plate")
    for attempt in ("苏Ｅ８８８８８", "苏E88888"):
        plates.locator("input[name=plate]").fill(attempt)
        plates.locator("input[name=reason]").fill("多次强闯校门")
        plates.locator("button").click()
        if attempt != "苏E88888":
            expect(admin.page.locator("#wl-plates")).to_contain_text("苏E88888")
    expect(plates.locator(".out")).to_contain_text("名单中已有该条目")
    admin.page.locator("#wl-plates button[data-delete='苏E88888']").click()
    expect(admin.page.locator(".toast.ok", has_text="已删除 苏E88888")).to_be_visible()
    expect(admin.page.locator("#wl-plates")).not_to_contain_text("苏E88888")
    assert [tuple(r) for r in store.query(
        "SELECT actor, target FROM audit_log WHERE action = 'watchlist_local_plate_removed'")
            ] == [("admin", "苏E88888")]
    # only Chromium's own lines for the two refusals (409) this test provoked
    assert [e for e in admin.errors if "status of 409" not in e] == []
    assert len(admin.errors) == 2
    admin.context.close()

    desk = open_page(browser, gate, "guard")
    page = desk.page
    page.goto(base(gate) + "/#visitors")
    photo = big_phone_photo(tmp_path / "phone.jpg")
    assert photo.stat().st_size > 3_500_000

    def register(name: str, number: str, purpose: str, upload: Path | None = None) -> str:
        page.goto(base(gate) + "/#visitors")
        f = page.locator("#visitor-form")
        f.locator("input[name=name]").fill(name)
        f.locator("input[name=id_number]").fill(number)
        f.locator("input[name=purpose]").fill(purpose)
        f.locator("select[name=host_id]").select_option("staff")
        f.locator("button[data-action=next]").click()
        if upload is not None:
            # the desk camera shows in the page (it is a test pattern here: no face, so the
            # photo is uploaded instead)
            expect(page.locator("#desk-video")).to_be_visible(timeout=5000)
            expect(page.locator("button[data-action=take]")).to_be_visible()
            wait_js(page, "document.querySelector('#desk-video').videoWidth > 0")
            page.click("button[data-action=take]")  # a frame of the camera, drawn on a canvas
            expect(page.locator("#photo-preview")).to_be_visible()
            wait_js(page, "document.querySelector('#photo-preview').naturalWidth > 100")
            page.locator("input[name=photo]").set_input_files(str(upload))
            expect(page.locator("#photo-preview")).to_be_visible()
        page.click("button[data-action=register]")
        expect(page.locator("#visitor-detail h2")).to_contain_text(name, timeout=20000)
        return page.url.rsplit("/", 1)[1]

    # blank purpose: refused on the form, saying which field
    page.goto(base(gate) + "/#visitors")
    page.locator("#visitor-form input[name=name]").fill("李四")
    page.locator("#visitor-form input[name=purpose]").fill("   ")
    page.locator("#visitor-form button[data-action=next]").click()
    expect(page.locator("#visitor-error")).to_contain_text("来访事由")
    # the full-width number typed with a Chinese input method matches the watch list
    flagged = register("李四", FULL_WIDTH_ID, "送文件", upload=photo)
    expect(page.locator("#screening-result")).to_have_text("核查预警")
    expect(page.locator("#screening-reasons")).to_contain_text("命中布控名单 local/")
    expect(page.locator("#screening-reasons")).to_contain_text("法院禁止令")
    shot(page, "visitor-flagged-zh-CN")
    assert gate.service.visitors.get(flagged, full_id=True)["id_number"] == LISTED_ID
    # the 3.9 MB phone photo went up resized, and is kept for the pass
    [(size,)] = store.query("SELECT bytes FROM visitor_photos WHERE visitor_id = ?",
                            (flagged,))
    assert 10_000 < size < 1_000_000
    # "Admit" without a note says so; the guard refuses with a note
    page.click("button[data-action=admit]")
    expect(page.locator("#visitor-action-error")).to_have_text("请填写处理说明")
    page.fill("input[name=guard-note]", "与公安核实后拒绝")
    page.click("button[data-action=refuse]")
    expect(page.locator("#visitor-status")).to_have_text("已拒绝入校")

    # a cleared visitor; the host answers late, on their phone
    visit = register("王芳", "330702199001011237", "家长会", upload=FACES / "train/obama/obama.jpg")
    expect(page.locator("#screening-result")).to_have_text("核查通过")
    expect(page.locator(".waiting")).to_contain_text("Teacher Wang")
    past = store.now() - dt.timedelta(hours=3)
    with store.transaction() as db:  # the host answers three hours after registration
        db.execute("UPDATE visitors SET valid_from = ?, valid_until = ?, created_at = ?"
                   " WHERE id = ?", (past.isoformat(), (past + dt.timedelta(minutes=120))
                                     .isoformat(), store.now().isoformat(), visit))
    host = open_page(browser, gate, "wang", viewport={"width": 390, "height": 844})
    card = host.page.locator(f".host-card[data-visitor='{visit}']")
    expect(card).to_contain_text("王芳")
    expect(card.locator("img.host-photo")).to_be_visible()
    shot(host.page, "host-phone-zh-CN")
    assert host.errors == []
    assert host.page.evaluate("fetch('/api/people').then(r => r.status)") == 403  # own only
    host.errors.clear()  # Chromium logs the 403 this test asked for
    card.locator("button[data-action=host-approve]").click()
    expect(host.page.locator(".toast.ok")).to_contain_text("已同意")
    # the desk's page sees the answer by itself: a pass valid from now
    expect(page.locator("#visitor-pass img.qr")).to_be_visible(timeout=8000)
    v = gate.service.visitors.get(visit)
    assert v["status"] == "approved" and v["approved_by"] == "wang (console)"
    until = dt.datetime.fromisoformat(v["valid_until"])
    assert until > store.now() + dt.timedelta(minutes=100)
    badge = page.locator("#visitor-pass")
    for text in ("实验中学", "王芳", "Teacher Wang", "有效期自", "有效至"):
        expect(badge).to_contain_text(text)
    wait_js(page, "document.querySelector('#visitor-pass img.qr').naturalWidth > 100"
            " && document.querySelector('#visitor-pass img.pass-photo').naturalWidth > 50")
    shot(page, "visitor-pass-zh-CN")
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    expect(page.locator("#visitors-today")).to_be_hidden()
    expect(page.locator("button[data-action=checkout]")).to_be_hidden()
    expect(badge).to_be_visible()
    shot(page, "visitor-badge-print")
    page.emulate_media(media="screen")
    # a temporary card bound in the page; its tap is the route's entry at L1
    page.fill("#card-form input[name=card]", "6200000099")
    page.click("button[data-action=card]")
    expect(page.locator(".toast.ok", has_text="6200000099")).to_be_visible()
    gate.ptys["L1-in"].write(em4100_frame("6200000099"))
    wait_for(lambda: gate.service.visitors.get(visit)["status"] == "on_site", timeout=10,
             what="the visitor's card to open L1")
    page.reload()
    route = page.locator("#visitor-route tbody tr").first
    expect(route).to_contain_text("L1")
    expect(route).to_contain_text("进")
    expect(route).to_contain_text("刷卡")
    # checkout voids the pass on screen
    page.click("button[data-action=checkout]")
    expect(page.locator("#visitor-pass.void")).to_contain_text("已作废")
    expect(page.locator("#visitor-pass img.qr")).to_have_count(0)
    expect(page.locator("#visitor-status")).to_have_text("已离校")
    shot(page, "visitor-checked-out-zh-CN")
    assert desk.errors == [] and host.errors == []
    assert page.evaluate(f"fetch('/api/visitors/{visit}/pass.svg').then(r => r.status)") == 409
    host.context.close()
    desk.context.close()


def test_a_visit_loaded_before_the_checkout_and_answered_after_it_draws_nothing(
        browser: Browser, gate: Gate) -> None:
    """Seen in CI: a second load of the visit (the page reloads itself when the service answers
    again) began before the checkout and drew after it, so the voided pass showed its QR code
    again and Chromium logged the 409 of ``pass.svg``."""
    desk = gate.service.visitors
    visit = desk.register(Registration("孙丽", "passport", "E2468013", "", "送教材", "staff",
                                       60, None), "guard")["id"]
    desk.host_decision(visit, "wang", True)
    w = open_page(browser, gate, "guard")
    page = w.page
    page.goto(base(gate) + f"/#visitors/{visit}")
    expect(page.locator("#visitor-pass img.qr")).to_be_visible()
    # a load of the visit: its answer (a valid pass) comes, its list of the day is held back
    held: list[Route] = []

    def the_days_list(url: str) -> bool:
        return url.split("?")[0].endswith("/api/visitors")

    def hold(route: Route) -> None:
        held.append(route)

    page.route(the_days_list, hold, times=1)
    with page.expect_request(lambda r: the_days_list(r.url)):
        page.click("#lang")  # redraws the page in English: a load of the visit like any other
    page.click("button[data-action=checkout]")
    expect(page.locator("#visitor-status")).to_have_text("checked out")
    expect(page.locator("#visitor-pass.void")).to_be_visible()
    assert len(held) == 1
    release_late(page, held[0])
    page.click("#lang")  # and a load after it, to the end
    expect(page.locator("#visitor-status")).to_have_text("已离校")
    expect(page.locator("#visitor-pass.void")).to_be_visible()
    expect(page.locator("#visitor-pass img.qr")).to_have_count(0)
    assert w.errors == [], w.errors
    w.context.close()


def test_desk_admitted_visitor_overstays_and_the_live_page_hears_it(browser: Browser,
                                                                     gate: Gate) -> None:
    store = gate.service.store
    live = open_page(browser, gate, "guard", lang="en")
    desk = open_page(browser, gate, "guard", lang="en")
    page = desk.page
    page.goto(base(gate) + "/#visitors")
    f = page.locator("#visitor-form")
    f.locator("input[name=name]").fill("Zhao Liu")
    f.locator("input[name=id_number]").fill("330702198502031231")
    f.locator("input[name=purpose]").fill("repairs")
    f.locator("button[data-action=next]").click()
    page.click("button[data-action=register]")
    expect(page.locator("#visitor-status")).to_have_text("waiting for the host")
    visit = page.url.rsplit("/", 1)[1]
    # a guard records the host's phone answer only with a note of the call
    page.click("button[data-action=phone-approve]")
    expect(page.locator("#visitor-action-error")).to_have_text("Write what was done first")
    page.fill("input[name=phone-note]", "Teacher Wang said yes on the phone at 09:10")
    page.click("button[data-action=phone-approve]")
    expect(page.locator("#visitor-pass img.qr")).to_be_visible()
    # never taps a reader, stays past the visit: overstaying, pushed to the live page
    with store.transaction() as db:
        db.execute("UPDATE visitors SET valid_until = ? WHERE id = ?",
                   ((store.now() - dt.timedelta(minutes=1)).isoformat(), visit))
    gate.service.visitors.overstays()
    expect(live.page.locator(".alert", has_text="visitor overstaying")).to_contain_text(
        "Zhao Liu", timeout=5000)
    page.reload()
    expect(page.locator("#overstay")).to_have_text("overstaying")
    assert gate.service.visitors.get(visit)["overstaying"] is True
    assert live.errors == [] and desk.errors == []
    live.context.close()
    desk.context.close()


def w_count(store: Any, table: str) -> int:
    return int(store.query(f"SELECT COUNT(*) FROM {table}")[0][0])


# --- CSV -------------------------------------------------------------------------------------

def test_console_csv_is_the_report_csv(browser: Browser, gate: Gate) -> None:
    store = gate.service.store
    gate.service.visitors.register(Registration(
        "=HYPERLINK(\"http://x\")", "passport", "E12345678", "", "@SUM(A1)", "staff", 60, None),
        "guard")
    w = open_page(browser, gate, "guard")
    page = w.page
    texts = {}
    for hash_, link in (("#attendance", "#att-csv"), ("#visitors", "#visitors-csv")):
        page.goto(base(gate) + "/" + hash_)
        expect(page.locator(link)).to_have_attribute("href", re.compile(r"\.csv"))
        with page.expect_download() as dl:
            page.click(link)
        texts[hash_] = Path(dl.value.path()).read_bytes().decode("utf-8")
    att, vis = texts["#attendance"], texts["#visitors"]
    assert att.startswith(BOM) and vis.startswith(BOM)
    assert att[1:].splitlines()[0].split(",") == list(ATTENDANCE_COLUMNS)
    assert vis[1:].splitlines()[0].split(",") == list(VISITOR_COLUMNS)
    assert "'=HYPERLINK" in vis and "'@SUM(A1)" in vis
    assert ",=HYPERLINK" not in vis and ",@SUM" not in vis
    assert store.count("visitors") >= 3
    w.context.close()


# --- face library ------------------------------------------------------------------------------

def test_face_library_with_consent_verdict_and_removal(browser: Browser, gate: Gate,
                                                       tmp_path: Path) -> None:
    store = gate.service.store
    w = open_page(browser, gate, "admin")
    page = w.page
    page.goto(base(gate) + "/#people/nocons")  # a card-only pupil: no consent recorded
    lib = page.locator("#face-library")
    expect(lib).to_be_visible()
    blank = tmp_path / "blank.png"
    Image.new("RGB", (640, 480), (200, 200, 200)).save(blank)
    lib.locator("input[name=face-photo]").set_input_files(str(blank))
    lib.locator("button[data-action=enrol]").click()
    expect(page.locator("#face-verdict")).to_have_text("没有记录人脸授权，不能录入")
    lib.locator("input[name=consent]").check()
    lib.locator("button[data-action=enrol]").click()  # no face in it: the quality verdict
    expect(page.locator("#face-verdict")).to_contain_text("未录入", timeout=20000)
    lib.locator("input[name=face-photo]").set_input_files(str(FACES / "train/biden/biden.jpg"))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url)
            if r.method == "POST" and r.url.endswith("/face") else None)
    lib.locator("button[data-action=replace]").dblclick()  # the buttons wait: one request
    verdict = page.locator("#face-verdict")
    # Biden's face offered for another pupil: refused, named, nothing stored ...
    expect(verdict).to_contain_text("Biden（biden）", timeout=20000)
    expect(verdict).to_contain_text("未录入")
    assert len(posts) == 1
    expect(lib.locator("button[data-action=enrol]")).to_be_enabled()
    assert w_count_where(store, "face_encodings", "person_id = 'nocons'") == 0
    confirm = page.locator("#face-confirm")
    expect(confirm).to_be_visible()
    confirm.locator("button[data-action=confirm]").click()  # no reason: not sent
    expect(verdict).to_contain_text("请填写")
    confirm.locator("input[name=confirm-reason]").fill("双胞胎")  # a reason of 2 characters
    confirm.locator("button[data-action=confirm]").click()
    expect(verdict).to_contain_text("已录入", timeout=20000)
    expect(confirm).to_be_hidden()
    assert store.query("SELECT face_consent, consent_recorded_at IS NOT NULL FROM people"
                       " WHERE id = 'nocons'")[0][:] == (1, 1)
    assert w_count_where(store, "face_encodings", "person_id = 'nocons'") == 1
    expect(page.locator("#person-status")).to_contain_text("人脸授权: 是 · 已录入人脸: 是")
    photos = page.locator("#face-photos tbody tr")
    expect(photos).to_have_count(1)
    expect(photos.first).to_contain_text("良好")  # its quality verdict, in words
    shot(page, "face-library-zh-CN")
    photos.first.locator("button[data-action=remove-one]").click()  # one photo, not all
    expect(photos).to_have_count(0)
    assert w_count_where(store, "face_encodings", "person_id = 'nocons'") == 0
    lib.locator("button[data-action=remove-face]").click()
    expect(verdict).to_have_text("已删除 0 个人脸特征")
    rows = store.query("SELECT action, details FROM audit_log WHERE target = 'nocons'"
                       " AND action LIKE 'face%' ORDER BY id")
    assert [r[0] for r in rows] == [
        "face_consent_recorded", "face_enrolled", "face_removed", "face_enrolled",
        "face_removed", "face_enrolled_despite_match", "face_photo_removed", "face_removed"]
    assert '"outcome": "refused"' in rows[3][1]
    assert '"reason": "双胞胎"' in rows[5][1] and '"person": "biden"' in rows[5][1]
    assert w.errors == []
    w.context.close()


def w_count_where(store: Any, table: str, where: str) -> int:
    return int(store.query(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0][0])


# --- every page, both languages ------------------------------------------------------------------

def test_every_page_in_both_languages_without_a_console_error(browser: Browser,
                                                               gate: Gate) -> None:
    store = gate.service.store
    # a plan of the school with the lane and its readers on it
    plan = io.BytesIO()
    Image.new("RGB", (800, 500), (225, 235, 225)).save(plan, "PNG")
    admin = open_page(browser, gate, "admin")
    admin.page.evaluate("""async ([image, csrf]) => {
        const h = {"Content-Type": "application/json", "X-CSRF-Token": csrf};
        await fetch('/api/map/image', {method: 'PUT', headers: h, body: JSON.stringify({image})});
    }""", [base64.b64encode(plan.getvalue()).decode(),
           admin.page.evaluate("fetch('/api/me').then(r => r.json()).then(m => m.csrf)")])
    admin.page.goto(base(gate) + "/#map")
    admin.page.select_option("#map-place", "lane/L1")
    admin.page.locator("#map-box img").click(position={"x": 200, "y": 150})
    expect(admin.page.locator(".marker[data-ref=L1]")).to_be_visible()
    admin.page.select_option("#map-place", "reader/L1-in")
    admin.page.locator("#map-box img").click(position={"x": 260, "y": 180})
    expect(admin.page.locator(".marker[data-ref='L1-in']")).to_be_visible()
    assert [tuple(r) for r in store.query("SELECT kind, ref FROM map_points ORDER BY ref")
            ] == [("lane", "L1"), ("reader", "L1-in")]
    # a vehicle registered in the page
    admin.page.goto(base(gate) + "/#vehicles")
    veh = admin.page.locator("#veh-add")
    veh.locator("input[name=plate]").fill("京A·12345")
    veh.locator("input[name=owner_id]").fill("staff")
    veh.locator("button").click()
    expect(admin.page.locator("#veh-table")).to_contain_text("Teacher Wang")
    admin.context.close()
    gate.service.engine.raise_alert(AlertType.ANTI_PASSBACK, Severity.WARNING, "L1",
                                    {"card": "6200000001"})
    for lang in ("zh-CN", "en"):
        w = open_page(browser, gate, "admin", lang=lang)
        for name, ready in PAGES.items():
            w.page.goto(base(gate) + f"/#{name}")
            expect(w.page.locator(f"#page-{name}")).to_be_visible()
            expect(w.page.locator(ready).first).to_be_attached()
            # no key in this gate: admins are told on every page
            expect(w.page.locator("#privacy-banner")).to_be_visible()
            if name == "live":  # the open alert at L1 is marked on the map
                expect(w.page.locator("#live-map .marker.alerting[data-ref=L1]")).to_be_visible()
            shot(w.page, f"page-{name}-{lang}")
        w.page.goto(base(gate) + "/#people/obama")
        expect(w.page.locator("#person h2")).to_contain_text("Obama")
        shot(w.page, f"page-person-{lang}")
        w.page.goto(base(gate) + "/#people/NOPE")  # no uncaught error, no stale person
        expect(w.page.locator("#person-error")).to_be_visible()
        expect(w.page.locator("#person h2")).to_have_count(0)
        # the one error allowed: Chromium's own line for the 404 this visit asked for
        assert [e for e in w.errors if "404" not in e] == [], w.errors
        assert len(w.errors) == 1
        w.errors.clear()
        desk = gate.service.visitors
        visit = desk.register(Registration("陈静", "passport", "E7654321", "", "参观", "staff",
                                           60, None), "guard")["id"]
        desk.host_decision(visit, "wang", True)
        desk.add_route(visit, "L1-in", "card in")
        w.page.goto(base(gate) + f"/#visitors/{visit}")
        expect(w.page.locator("#visitor-detail h2")).to_be_visible()
        # the record draws the route on the campus map
        expect(w.page.locator("#visitor-map .marker.visited[data-ref='L1-in']")).to_have_text(
            "L1-in (1)")
        shot(w.page, f"page-visitor-{lang}")
        # no raw codes in the tables' headers
        assert w.page.locator("th").count() > 0
        assert w.errors == [], w.errors
        w.context.close()
    login = browser.new_page()
    login.goto(base(gate) + "/")
    expect(login.locator("#login")).to_be_visible()
    shot(login, "page-login")
    login.close()


# --- alarms whatever the session ----------------------------------------------------------------

def test_fire_alarm_over_an_expired_session_and_the_roll_call(browser: Browser,
                                                               gate: Gate) -> None:
    store = gate.service.store
    gate.tap("biden")  # Biden (7-1) comes in; the roll call must list him
    w = open_page(browser, gate, "guard")
    page = w.page
    expect(page.locator("#page-live")).to_be_visible()
    # the heartbeat of a visible live page renews the idle timer
    with store.transaction() as db:
        db.execute("UPDATE sessions SET last_seen_epoch = last_seen_epoch - 600")
    before = store.query("SELECT MAX(last_seen_epoch) FROM sessions")[0][0]
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    wait_for(lambda: store.query("SELECT MAX(last_seen_epoch) FROM sessions")[0][0] > before,
             timeout=5, what="the heartbeat")
    # the session lapses while the guard watches; then the fire input goes active
    with store.transaction() as db:
        db.execute("DELETE FROM sessions")
    gate.service.engine.set_fire_alarm(True, "test")
    try:
        expect(page.locator("#fire-banner")).to_be_visible(timeout=5000)
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#fire-banner")).to_contain_text("火警")
        shot(page, "fire-over-login")
        alarm = page.evaluate("fetch('/api/alarm').then(r => r.json())")
        assert set(alarm) == {"fire", "critical_open", "session", "ts"}  # nothing personal
        assert alarm["fire"] == {"active": True, "released": True, "fault": False,
                                 "cause": "fire_alarm"} and not alarm["session"]
        # logged in again, the roll call opens by itself: who is on campus now
        page.fill("#login-form input[name=username]", "guard")
        page.fill("#login-form input[name=password]", PASSWORDS["guard"])
        page.click("#login-form button[type=submit]")
        expect(page.locator("#page-rollcall")).to_be_visible(timeout=5000)
        expect(page.locator("#rollcall")).to_contain_text("Biden")
        expect(page.locator("#rollcall")).to_contain_text("7-1")
        shot(page, "rollcall-fire")
        page.emulate_media(media="print")
        expect(page.locator("#alarm-bar")).to_be_hidden()
        expect(page.locator("#rollcall table").first).to_be_visible()
        page.emulate_media(media="screen")
    finally:
        gate.service.engine.set_fire_alarm(False, "test")
        gate.service.engine.reset_fire("guard", "drill over")
    expect(page.locator("#fire-banner")).to_be_hidden(timeout=5000)
    w.context.close()


PAGE_START = dt.datetime(2026, 3, 2, 7, 30, tzinfo=TZ)  # a school morning, for the page's clock


def test_an_alarm_poll_asked_before_the_login_does_not_undo_it(browser: Browser,
                                                               gate: Gate) -> None:
    """The alarm poll runs whatever the session. One asked while the guard was logged out and
    answered once the guard had logged in says "no session" about the moment it was asked; it
    sent the guard straight back to the login form, "session expired" (the fire alarm test
    above failed so on a loaded machine: the roll call never opened)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.add_init_script("localStorage.setItem('lang', 'zh-CN')")
    w = Watched(context)
    page = w.page
    page.clock.install(time=PAGE_START)
    page.goto(base(gate) + "/")
    expect(page.locator("#login")).to_be_visible()
    # from here the page's time stands still but when told: the poll's 1.5 s interval, and
    # its 2 s abort, which would end the held poll on a machine slow to log in (seen in CI)
    page.clock.pause_at(PAGE_START + dt.timedelta(hours=1))
    held: list[tuple[Route, Any]] = []

    def hold(route: Route) -> None:
        held.append((route, route.fetch()))  # the answer as of now: nobody logged in

    page.route("**/api/alarm", hold)
    page.clock.run_for(1500)  # the next poll is asked, logged out
    wait_for(lambda: page.evaluate("true") and held, timeout=10, what="a poll held back")
    page.fill("#login-form input[name=username]", "guard")
    page.fill("#login-form input[name=password]", PASSWORDS["guard"])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text("guard")
    expect(page.locator("#page-live")).to_be_visible()
    route, answer = held[0]
    stale = answer.json()
    assert stale["session"] is False
    # the late answer, marked so that the page can be seen to have read it
    route.fulfill(response=answer, json={**stale, "critical_open": 99})
    expect(page.locator("#critical-text")).to_contain_text("99")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#who")).to_contain_text("guard")
    expect(page.locator("#page-live")).to_be_visible()
    # a real end of the session is still told at the next poll
    page.unroute("**/api/alarm")
    with gate.service.store.transaction() as db:
        db.execute("DELETE FROM sessions")
    page.clock.run_for(1500)
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("登录已过期")
    w.context.close()


def test_fire_input_fault_is_told_apart_from_a_fire(browser: Browser, gate: Gate) -> None:
    """A cut fire-input wire: lanes released as a precaution, but the banner says fault and
    wiring, and the roll call (an evacuation list) does not open by itself."""
    w = open_page(browser, gate, "guard")
    page = w.page
    expect(page.locator("#page-live")).to_be_visible()
    engine = gate.service.engine
    engine.set_fire_input_fault(True, "cannot read /dev/ttyUSB3", release=True)
    try:
        banner = page.locator("#fire-banner")
        expect(banner).to_be_visible(timeout=5000)
        expect(banner).to_contain_text("火警输入故障")
        expect(banner).to_contain_text("检查接线")
        expect(banner).not_to_contain_text("火警！")
        assert banner.get_attribute("data-cause") == "fire_input_fault"
        shot(page, "fire-input-fault")
        for _ in range(2):  # two more alarm polls: the roll call must not open by itself
            with page.expect_response(lambda r: r.url.endswith("/api/alarm")) as polled:
                pass
            assert polled.value.json()["fire"]["fault"] is True
        expect(page.locator("#page-live")).to_be_visible()
        page.goto(base(gate) + "/#devices")
        expect(page.locator("#devices-table")).to_contain_text("检查接线")
    finally:
        engine.set_fire_input_fault(False, None, release=True)
        engine.reset_fire("guard", "wire repaired")
    expect(page.locator("#fire-banner")).to_be_hidden(timeout=5000)
    w.context.close()


def test_lost_connection_shown_within_5_s(browser: Browser, tmp_path: Path) -> None:
    """``gate run`` in a child process, killed (SIGKILL) under an open live page."""
    data = tmp_path / "data"
    store = Store(data, TZ)
    try:
        add_user(store, "guard", PASSWORDS["guard"], "guard")
    finally:
        store.close()
    config, port = console_gate_config(tmp_path, data)
    log = (tmp_path / "gate.log").open("ab")
    proc = subprocess.Popen([*GATE, "--config", str(config), "run"], stdout=subprocess.DEVNULL,
                            stderr=log)
    try:
        url = f"http://localhost:{port}"

        def up() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=1).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, what="gate run's console")
        context = browser.new_context(locale="en")
        context.add_init_script("localStorage.setItem('lang', 'en')")
        page = context.new_page()
        page.goto(url + "/")
        page.fill("#login-form input[name=username]", "guard")
        page.fill("#login-form input[name=password]", PASSWORDS["guard"])
        page.click("#login-form button[type=submit]")
        expect(page.locator("#page-live")).to_be_visible()
        expect(page.locator("#conn")).to_have_text("connected", timeout=5000)
        start = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        expect(page.locator("#conn-banner")).to_be_visible(timeout=5000)
        assert time.monotonic() - start < 5
        expect(page.locator("#conn")).to_have_text("disconnected")
        # an action now says it did not happen, and the dialog stays open
        page.click("button[data-lane=L1]")
        page.fill("#open-form input[name=reason]", "ambulance")
        page.click("#open-form button[value=ok]")
        expect(page.locator("#open-error")).to_contain_text("L1 NOT opened")
        expect(page.locator("#open-dialog")).to_be_visible()
        shot(page, "connection-lost-en")
        context.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
