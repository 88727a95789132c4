"""The guard console: real uvicorn, real HTTP, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gate.bench.scenes import FACES
from gate.broker import free_port
from gate.console.auth import ACCOUNT_FAILURES, add_user
from gate.demo import em4100_frame
from tests.conftest import ROOT, real_clock_env
from tests.ptys import wait_for
from tests.scenario import Gate, running_gate

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORDS = {"admin": "admin-password-1", "guard": "guard-password-1"}

pytestmark = pytest.mark.slow


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    port = free_port()
    with running_gate(tmp_path, FACES, console={"enabled": True,
                                                "bind": f"127.0.0.1:{port}"}) as g:
        for user, password in PASSWORDS.items():
            add_user(g.service.store, user, password, "admin" if user == "admin" else "guard")
        console = g.service.console
        yield g
    # the browser's pages are still open: the stop ended the console all the same (uvicorn
    # cancels what still runs 2 s into a stop, gate/console/server.py)
    assert console is not None and console.ended()


def base(gate: Gate) -> str:
    assert gate.service.console is not None
    return f"http://localhost:{gate.service.console.port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, env=real_clock_env(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(browser: Browser, gate: Gate, user: str) -> Page:
    page = browser.new_page(locale="zh-CN")
    page.goto(base(gate) + "/")
    page.fill("#login-form input[name=username]", user)
    page.fill("#login-form input[name=password]", PASSWORDS[user])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text(user)
    return page


def test_login_live_feed_ack_and_manual_open(browser: Browser, gate: Gate) -> None:
    page = login(browser, gate, "guard")
    expect(page.locator("#page-live")).to_be_visible()
    shot(page, "live-empty")
    # a card tapped on a pty reader appears on the live page, pushed over its feed (how fast
    # is for a benchmark: this test's old 1 s bound failed with five test processes at once)
    gate.ptys["L1-in"].write(em4100_frame("6200000001"))
    row = page.locator("#feed tbody tr", has_text="Obama · 7-1")
    expect(row).to_be_visible()
    # a critical alert stands out until acknowledged with a note
    gate.service.engine.raise_alert("tailgating", "critical", "L1", {"people": 2,
                                                                     "authorised": 1})
    alert = page.locator(".alert.critical", has_text="尾随通行")
    expect(alert).to_be_visible(timeout=2000)
    shot(page, "live-critical-alert")
    alert.locator("button.ack").click()  # no note yet: nothing happens, and it says why
    expect(alert).to_be_visible()
    expect(alert.locator(".ack-out")).to_have_text("请填写处理说明")
    alert.locator("input.ack-note").fill("checked the camera: a parent walked in with the child")
    # another alert arrives while the note is typed: the queue is redrawn, the note stays
    gate.service.engine.raise_alert("unknown_card", "warning", "L2", {"card": "hex:00"})
    # (the gate's own "broker offline" warning may be there too: these gates have no broker)
    expect(page.locator(".alert.warning", has_text="未登记的卡")).to_have_count(1)
    expect(alert.locator("input.ack-note")).to_have_value(
        "checked the camera: a parent walked in with the child")
    alert.locator("button.ack").click()
    expect(alert).to_have_count(0)
    [row_ack] = gate.service.store.query("SELECT acknowledged_by, ack_note FROM alerts"
                                         " WHERE type = 'tailgating'")
    assert tuple(row_ack) == ("guard", "checked the camera: a parent walked in with the child")
    # a manual open asks for a reason and lands in the audit log
    page.click("button[data-lane=L1]")
    expect(page.locator("#open-dialog")).to_be_visible()
    shot(page, "manual-open-dialog")
    page.click("#open-form button[value=ok]")  # empty reason: the form refuses
    expect(page.locator("#open-dialog")).to_be_visible()
    expect(page.locator("#open-error")).not_to_be_empty()
    page.fill("#open-form input[name=reason]", "ambulance for the school nurse")
    page.click("#open-form button[value=ok]")
    expect(page.locator("#feed tbody tr", has_text="手动开闸").first).to_be_visible()
    audit = gate.service.store.query("SELECT actor, action, target, details FROM audit_log"
                                     " WHERE action = 'manual_open'")
    assert [(a[0], a[2]) for a in audit] == [("guard", "L1")]
    assert "ambulance" in audit[0][3]


def test_pages_and_roles(browser: Browser, gate: Gate) -> None:
    gate.tap("obama")
    page = login(browser, gate, "guard")
    loaded = {"people": "#people-list tbody tr", "attendance": "#att-table tbody tr",
              "vehicles": "#wl-table", "devices": "#devices-table tr"}
    for name, content in loaded.items():
        page.goto(base(gate) + f"/#{name}")
        expect(page.locator(f"#page-{name}")).to_be_visible()
        expect(page.locator(content).first).to_be_attached()
        shot(page, f"guard-{name}")
    # the fire reset is on the devices page; with no fire release the engine refuses it
    page.goto(base(gate) + "/#devices")
    page.fill("#fire-reset input", "drill over, input clear")
    page.click("#fire-reset button")
    expect(page.locator("#fire-reset-result")).to_contain_text("没有需要复位的火警放行")
    page.goto(base(gate) + "/#people/obama")
    expect(page.locator("#person h2")).to_contain_text("Obama")
    page.fill("#exit-form input[type=text], #exit-form input:not([type=number])", "dentist")
    page.click("#exit-form button")
    expect(page.locator("#exit-form span")).to_contain_text(":")
    assert gate.service.store.has_exit_permission("obama", gate.service.store.now())
    shot(page, "guard-person")
    # a guard cannot reach admin pages
    page.goto(base(gate) + "/#users")
    expect(page.locator("#page-forbidden")).to_be_visible()
    assert page.evaluate("fetch('/api/users').then(r => r.status)") == 403
    viewed = gate.service.store.query("SELECT actor FROM audit_log WHERE action = 'person_viewed'"
                                      " AND target = 'obama'")
    assert [v[0] for v in viewed] == ["guard"]  # one page view, one audit row
    admin = login(browser, gate, "admin")
    admin.goto(base(gate) + "/#users")
    expect(admin.locator("#users-table")).to_contain_text("guard")
    admin.click("#lang")
    expect(admin.locator("#nav a[href='#users']")).to_have_text("Users")
    admin.goto(base(gate) + "/#audit")
    expect(admin.locator("#audit-table")).to_contain_text("login")
    shot(admin, "admin-audit-en")


def _routes(gate: Gate) -> list[tuple[str, str]]:
    with httpx.Client(base_url=base(gate)) as admin:  # the schema itself needs a session
        r = _login(admin, "admin", PASSWORDS["admin"])
        admin.cookies.set("__Host-gate_session",
                          r.headers["set-cookie"].split(";")[0].split("=", 1)[1])
        spec = admin.get("/openapi.json").json()
    return [(m.upper(), path) for path, ops in spec["paths"].items() for m in ops]


def test_every_api_route_needs_a_session(gate: Gate) -> None:
    """Over the real server; ``tests/test_console_routes.py`` walks ``app.routes`` too."""
    routes = _routes(gate)
    assert len(routes) >= 15
    with httpx.Client(base_url=base(gate)) as client:
        assert client.get("/openapi.json").status_code == 401
        for method, path in routes:
            if path in ("/api/login", "/healthz", "/api/alarm"):
                continue
            url = path.replace("{", "").replace("}", "")
            r = client.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.status_code)
        assert client.get("/healthz").json()["status"] == "ok"


def _login(client: httpx.Client, user: str, password: str) -> httpx.Response:
    return client.post("/api/login", json={"username": user, "password": password})


def test_login_rate_limit_and_csrf(gate: Gate) -> None:
    with httpx.Client(base_url=base(gate)) as client:
        statuses = [_login(client, "guard", "wrong-password").status_code for _ in range(20)]
        assert statuses == [401] * ACCOUNT_FAILURES + [429] * (20 - ACCOUNT_FAILURES)
        locked = _login(client, "guard", PASSWORDS["guard"])
        assert locked.status_code == 429  # even the right password, while locked out
        assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
        fails = gate.service.store.query("SELECT COUNT(*) FROM audit_log WHERE action ="
                                         " 'login_failed' AND actor = 'guard'")[0][0]
        assert fails == ACCOUNT_FAILURES  # refusals while locked are not failures
    # another account at the same desk (127.0.0.1) logs in at once; its cookie is
    # Secure + HttpOnly + SameSite=Strict with the __Host- prefix
    with httpx.Client(base_url=base(gate)) as client:
        ok = _login(client, "admin", PASSWORDS["admin"])
        assert ok.status_code == 200
        cookie = ok.headers["set-cookie"]
        for part in ("__Host-gate_session=", "HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert part.lower() in cookie.lower()
        token = cookie.split(";")[0].split("=", 1)[1]
        client.cookies.set("__Host-gate_session", token)
        csrf = ok.json()["csrf"]
        no_csrf = client.post("/api/lanes/L1/open", json={"reason": "no token"})
        assert no_csrf.status_code == 403
        assert gate.service.store.count("audit_log") > 0
        before = gate.service.store.query("SELECT COUNT(*) FROM events WHERE type ="
                                          " 'manual_open'")[0][0]
        assert before == 0
        good = client.post("/api/lanes/L1/open", json={"reason": "with token"},
                           headers={"X-CSRF-Token": csrf})
        assert good.status_code == 200
        bad_body: dict[str, Any] = {"reason": "x" * 500}
        assert client.post("/api/lanes/L1/open", json=bad_body,
                           headers={"X-CSRF-Token": csrf}).status_code == 422


def test_visitor_desk_in_the_browser(browser: Browser, gate: Gate) -> None:
    page = login(browser, gate, "guard")
    page.goto(base(gate) + "/#visitors")
    form = page.locator("#visitor-form")
    expect(form).to_be_visible()
    expect(page.locator("#host-select option[value=staff]")).to_be_attached()
    form.locator("input[name=name]").fill("王芳")
    form.locator("select[name=id_type]").select_option("resident-id")
    form.locator("input[name=id_number]").fill("330702199001011230")  # wrong check digit
    form.locator("input[name=purpose]").fill("家长会")
    form.locator("select[name=host_id]").select_option("staff")
    form.locator("button[data-action=next]").click()
    page.locator("input[name=photo]").set_input_files(str(FACES / "train/biden/biden.jpg"))
    expect(page.locator("#photo-preview")).to_be_visible()
    page.click("button[data-action=register]")
    # back on the document step, saying why in the page's language
    expect(page.locator("#visitor-error")).to_contain_text("校验位")
    form.locator("input[name=id_number]").fill("330702199001011237")
    form.locator("button[data-action=next]").click()
    page.locator("input[name=photo]").set_input_files(str(FACES / "train/biden/biden.jpg"))
    page.click("button[data-action=register]")
    expect(page.locator("#screening-result")).to_have_text("核查通过")
    expect(page.locator("#visitor-detail h2")).to_contain_text("330702********1237")
    shot(page, "visitor-screened")
    page.fill("input[name=phone-note]", "王老师电话确认")
    page.click("button[data-action=phone-approve]")
    qr = page.locator("#visitor-pass img.qr")
    expect(qr).to_be_visible()
    wait_for(lambda: page.evaluate(  # wait_for_function polls via eval: the CSP refuses it
        "document.querySelector('#visitor-pass img.qr').naturalWidth > 100"), what="the QR")
    shot(page, "visitor-pass")
    page.click("button[data-action=checkout]")
    expect(page.locator("#visitor-status")).to_have_text("已离校")
    [row] = gate.service.store.query("SELECT status, registered_by FROM visitors")
    assert tuple(row) == ("checked_out", "guard")
    assert gate.service.store.count("visitor_faces") == 1


def test_admin_registers_a_vehicle_the_engine_then_admits(gate: Gate) -> None:
    with httpx.Client(base_url=base(gate)) as client:
        r = _login(client, "admin", PASSWORDS["admin"])
        token = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        client.cookies.set("__Host-gate_session", token)
        headers = {"X-CSRF-Token": r.json()["csrf"]}
        bad = client.post("/api/vehicles", json={"plate": "京I12345"}, headers=headers)
        assert bad.status_code == 422  # I never appears on a Chinese plate
        ok = client.post("/api/vehicles", json={"plate": "京A·12345", "kind": "staff",
                                                "days": 30}, headers=headers)
        assert ok.status_code == 200 and ok.json()["plate"] == "京A12345"
        assert [v["plate"] for v in client.get("/api/vehicles").json()] == ["京A12345"]
        # registered already: 409 with whose it is, unless the admin confirmed replacing
        again = {"plate": "京A12345", "kind": "parent", "note": "grandfather"}
        taken = client.post("/api/vehicles", json=again, headers=headers)
        assert taken.status_code == 409 and taken.json()["code"] == "plate_registered"
        assert {k: taken.json()["current"][k] for k in ("plate", "kind", "note")} == {
            "plate": "京A12345", "kind": "staff", "note": ""}
        replaced = client.post("/api/vehicles", json={**again, "replace": True},
                               headers=headers)
        assert replaced.status_code == 200, replaced.text
        assert [v["kind"] for v in client.get("/api/vehicles").json()] == ["parent"]
        for path, body in (("plates", {"plate": "京C11111", "reason": "  "}),
                           ("persons", {"name": "Zhang San"})):  # no reason, no listing
            refused = client.post(f"/api/watchlists/local/{path}", json=body, headers=headers)
            assert refused.status_code == 422 and refused.json()["code"] == "reason_required"
    assert gate.service.engine.on_plate("L1", "京A12345", 0.97).opened


def test_devices_page_states_in_words_last_read_and_refreshing(browser: Browser,
                                                                gate: Gate) -> None:
    """Issue 28: each device's state in words, the last read, a page that refreshes itself,
    no fire input as a warning (never OK), and a two-character note resets the fire release."""
    page = login(browser, gate, "guard")
    page.goto(base(gate) + "/#devices")
    reader = page.locator('#devices-table tr[data-device="L1-in"]')
    expect(reader.locator(".badge")).to_have_text("在线")
    expect(reader).to_contain_text("最近读卡 尚无")
    fire = page.locator('#devices-table tr[data-state="not_configured"]')
    expect(fire.locator(".badge")).to_have_text("未配置")
    expect(fire.locator(".badge")).to_have_attribute("data-level", "warning")
    expect(fire).to_contain_text("火警时闸门不会自动释放")
    expect(page.locator('#devices-table tr[data-device="L1"] .badge')).to_have_text("关闭")
    gate.tap("nocons")  # no reload: the page's own refresh (every 5 s) shows the read
    expect(reader).to_contain_text("秒前", timeout=12_000)
    assert not page.locator("#devices-table").inner_text().count("reader-loop")
    shot(page, "devices-zh")

    gate.service.engine.set_fire_alarm(True, "test")  # a drill: released, then the input clears
    gate.service.engine.set_fire_alarm(False, "test")
    expect(page).to_have_url(re.compile("#rollcall"), timeout=15_000)  # the page's alarm view
    page.goto(base(gate) + "/#devices")
    expect(page.locator('#devices-table tr[data-device="L1"] .badge')).to_have_text("火警释放")
    page.fill("#fire-reset input", "复位")
    page.click("#fire-reset button")
    expect(page.locator("#toasts")).to_contain_text("闸机已复位")
    expect(page.locator('#devices-table tr[data-device="L1"] .badge')).to_have_text("关闭")
    assert gate.service.store.query("SELECT details FROM audit_log WHERE action = 'fire_reset'"
                                    )[0]["details"] == '{"note": "复位"}'


def test_a_stopping_console_closes_the_open_pages_feeds_as_going_away(browser: Browser,
                                                                       gate: Gate) -> None:
    """A stop closes each page's live feed itself (1001 "going away": the page says the
    connection is lost and retries) rather than leaving uvicorn to cancel the handlers when
    its 2 s of grace run out, which logged an ASGI error at every stop."""
    page = login(browser, gate, "guard")
    console = gate.service.console
    assert console is not None
    page.evaluate("""() => new Promise((opened) => {
        window.feedClosed = null;
        const ws = new WebSocket(`ws://${location.host}/api/live`);
        ws.onopen = () => opened(null);
        ws.onclose = (e) => { window.feedClosed = e.code; };
    })""")
    hub = console.app.state.console.hub
    wait_for(lambda: len(hub.queues) == 2, what="the page's feed and ours to be subscribed")
    console.stop()
    wait_for(lambda: page.evaluate("window.feedClosed") is not None, what="our feed to close")
    assert page.evaluate("window.feedClosed") == 1001
    assert console.ended()
    expect(page.locator("#conn")).not_to_have_class(re.compile(r"\bup\b"))
