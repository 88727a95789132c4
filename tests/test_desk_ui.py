"""The desk's ID-card reader and the host's phone, in Debian's Chromium against a running gate:
the desk fills and locks the document from a card laid on a (simulated, pty) reader and
refuses an expired one; a host page in a second browser context, with notifications
granted, raises a system notification within 2 s of a visitor's registration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from gate.bench.scenes import FACES
from gate.broker import free_port
from gate.console.auth import add_user
from tests.conftest import ROOT, real_clock_env
from tests.idcard_sim import SimulatedIdReader, sample_card
from tests.ptys import PtyPort, wait_for
from tests.scenario import Gate, running_gate
from tests.test_console import CHROMIUM

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "test-artifacts"
PASSWORDS = {"guard": "guard-password-1", "wang": "host-password-1"}

# Records every system notification the page raises, by either road: the page's own
# ``new Notification`` and the service worker's ``showNotification`` (what phones use).
RECORD_NOTIFICATIONS = """
window.__notes = [];
(() => {
  const Original = window.Notification;
  if (Original) {
    window.Notification = class extends Original {
      constructor(title, options) {
        super(title, options);
        window.__notes.push({ title, body: options && options.body, at: Date.now(), via: "page" });
      }
    };
  }
  const Registration = window.ServiceWorkerRegistration;
  if (Registration) {
    const show = Registration.prototype.showNotification;
    Registration.prototype.showNotification = function (title, options) {
      window.__notes.push({ title, body: options && options.body, at: Date.now(), via: "worker" });
      return show.call(this, title, options);
    };
  }
})();
"""


class Desk:
    def __init__(self, gate: Gate, reader: SimulatedIdReader) -> None:
        self.gate = gate
        self.reader = reader


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("desk")
    pty = PtyPort(tmp / "usb-idreader-if00")
    sim = SimulatedIdReader(pty)
    port = free_port()
    try:
        with running_gate(tmp, FACES, console={"enabled": True, "bind": f"127.0.0.1:{port}"},
                          visitors={"notify_police": False, "desk_reader": {
                              "port": pty.path, "poll_ms": 100}}) as g:
            store = g.service.store
            add_user(store, "guard", PASSWORDS["guard"], "guard")
            add_user(store, "wang", PASSWORDS["wang"], "host", "staff")
            reader = g.service.desk_reader
            assert reader is not None
            wait_for(lambda: reader.health.connected, what="the desk reader to answer")
            yield Desk(g, sim)
    finally:
        sim.close()
        pty.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, env=real_clock_env(), args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def base(desk: Desk) -> str:
    console = desk.gate.service.console
    assert console is not None
    return f"http://localhost:{console.port}"


def log_in(context: BrowserContext, desk: Desk, user: str) -> tuple[Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base(desk) + "/")
    page.fill("#login-form input[name=username]", user)
    page.fill("#login-form input[name=password]", PASSWORDS[user])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text(user)
    return page, errors


def wait_js(page: Page, expression: str, timeout: float = 10) -> Any:
    """Poll an expression in the page (``wait_for_function`` uses eval, which the console's
    Content-Security-Policy refuses)."""
    wait_for(lambda: bool(page.evaluate(expression)), timeout=timeout, what=expression)
    return page.evaluate(expression)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def lift_card(desk: Desk) -> None:
    """Take the card off the reader and wait until the reader loop has seen it gone."""
    desk.reader.card = None
    reader = desk.gate.service.desk_reader
    assert reader is not None
    wait_for(lambda: reader._present is None, what="the card to be lifted")


def test_host_page_notifies_within_2_s_of_a_registration(browser: Browser, desk: Desk) -> None:
    host_context = browser.new_context(locale="zh-CN")
    host_context.grant_permissions(["notifications"], origin=base(desk))
    host_context.add_init_script("localStorage.setItem('lang', 'zh-CN');" + RECORD_NOTIFICATIONS)
    guard_context = browser.new_context(locale="zh-CN")
    try:
        host, host_errors = log_in(host_context, desk, "wang")
        host.set_viewport_size({"width": 390, "height": 844})  # a phone
        expect(host.locator("#page-host")).to_be_visible()
        wait_js(host, "document.querySelector('#host-live').dataset.state === 'open'")
        # The page is an installable app: its manifest and service worker are in place.
        manifest = host.evaluate("fetch('/manifest.webmanifest').then(r => r.json())")
        assert manifest["display"] == "standalone" and manifest["start_url"] == "/#host"
        wait_js(host, "navigator.serviceWorker.getRegistration().then(r => !!(r && r.active))")
        assert host.evaluate("Notification.permission") == "granted"
        expect(host.locator("[data-action=notify-enable]")).to_have_count(0)

        guard, guard_errors = log_in(guard_context, desk, "guard")
        started = guard.evaluate("""async () => {
            const me = await (await fetch('/api/me')).json();
            const started = Date.now();
            const r = await fetch('/api/visitors', { method: 'POST', headers: {
                'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf },
              body: JSON.stringify({ name: '赵六', id_type: 'passport', id_number: 'E99887766',
                                     purpose: '送教材', host_id: 'staff' }) });
            if (!r.ok) throw new Error(await r.text());
            return started;
        }""")
        notes = wait_js(host, "window.__notes.length > 0 && window.__notes", timeout=5)
        note = notes[0]
        delay_ms = note["at"] - started
        print(f"host notification {delay_ms} ms after the registration was sent"
              f" (via {note['via']})")
        assert delay_ms <= 2000, delay_ms
        assert note["title"] == "访客 赵六 等待您的确认" and "送教材" in note["body"]
        expect(host.locator(".host-card h3", has_text="赵六")).to_be_visible()
        shot(host, "host-phone-notified-zh")
        if note["via"] == "worker":  # the system tray holds it (where the browser has one)
            shown = host.evaluate("navigator.serviceWorker.getRegistration().then("
                                  "r => r.getNotifications()).then(ns => ns.map(n => n.title))")
            print(f"service worker getNotifications: {shown}")
        assert host_errors == [] and guard_errors == []
    finally:
        host_context.close()
        guard_context.close()


def test_desk_fills_and_locks_from_the_card_and_refuses_an_expired_one(
        browser: Browser, desk: Desk) -> None:
    context = browser.new_context(locale="zh-CN")
    context.add_init_script("localStorage.setItem('lang', 'zh-CN')")
    try:
        page, errors = log_in(context, desk, "guard")
        page.goto(base(desk) + "/#visitors")
        expect(page.locator("#chip-state")).to_have_text(
            "身份证阅读器已就绪：请把身份证放在阅读器上，或手工填写。")
        lift_card(desk)
        desk.reader.card = sample_card(name="钱七", valid_to=None)  # laid on the reader
        form = page.locator("#visitor-form")
        expect(form.locator("input[name=name]")).to_have_value("钱七", timeout=5000)
        expect(form.locator("input[name=id_number]")).to_have_value("11010519491231002X")
        for field in ("name", "id_number"):
            assert form.locator(f"input[name={field}]").evaluate("e => e.readOnly")
        expect(form.locator("select[name=id_type]")).to_be_disabled()
        expect(page.locator("#chip-card")).to_contain_text("北京市朝阳区建国路88号")
        expect(page.locator("#chip-card")).to_contain_text("汉族")
        expect(page.locator("#chip-card")).to_contain_text("长期")
        shot(page, "desk-id-card-read-zh")
        form.locator("input[name=purpose]").fill("家长会")
        form.locator("[data-action=next]").click()
        page.locator("[data-action=register]").click()
        expect(page.locator("#read-from-chip")).to_be_visible(timeout=10000)
        visitor_id = page.evaluate("location.hash.split('/')[1]")
        v = desk.gate.service.visitors.get(visitor_id)
        assert (v["name"], v["read_from_chip"], v["id_type"]) == ("钱七", True, "resident-id")

        # An expired card: refused on the spot with its date, nothing filled or locked.
        page.goto(base(desk) + "/#live")
        page.goto(base(desk) + "/#visitors")
        expect(page.locator("#chip-state")).to_be_visible()
        lift_card(desk)
        desk.reader.card = sample_card(name="孙八", valid_to=dt.date(2021, 6, 30))
        expect(page.locator("#visitor-error")).to_have_text(
            "此身份证已于 2021-06-30 过期，不能登记。请出示其他有效证件。", timeout=5000)
        expect(form.locator("input[name=name]")).to_have_value("")
        assert not form.locator("input[name=name]").evaluate("e => e.readOnly")
        form.locator("input[name=name]").fill("typed by hand")  # typing still works
        expect(form.locator("input[name=name]")).to_have_value("typed by hand")
        assert errors == []
    finally:
        lift_card(desk)
        context.close()


def test_host_page_offers_to_turn_notifications_on(browser: Browser, desk: Desk) -> None:
    """Without the permission yet, the host page offers the button (a browser asks only on a
    tap); the page still hears its WebSocket and lists the visitor."""
    context = browser.new_context(locale="en")
    context.add_init_script("localStorage.setItem('lang', 'en')")
    try:
        page, errors = log_in(context, desk, "wang")
        expect(page.locator("[data-action=notify-enable]")).to_have_text(
            "Turn on visitor notifications")
        wait_js(page, "document.querySelector('#host-live').dataset.state === 'open'")
        assert page.evaluate("Notification.permission") == "default"
        assert errors == []
    finally:
        context.close()
