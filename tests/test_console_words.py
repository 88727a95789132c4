"""Every word a guard reads, rendered by the console's own code in Chromium, in both languages.

tests/test_console_i18n.py checks that the catalogue has a key for each code; this renders
what the pages render (the live page's alert lines, screening reasons, the audit log's
actions, details and targets, device and component names, device states) through the page's
own JavaScript and fails on English words left in zh-CN. The samples come from the code that
makes them where that is cheap (the rules, the visitor desk's screening against a real
store, the police list behind the real remote interface); every alert type, every audit
action the code writes and every component the service supervises must be covered, so a new
one without words fails here.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, sync_playwright

from gate import rules
from gate.config import Config
from gate.demo import PoliceListMock
from gate.journal import Journal
from gate.store import Store
from gate.visitors import Registration, RemoteScreening, VisitorDesk
from gate.vocab import AlertType
from gate.watchlist import apply_watchlist, parse_payload
from recognition.gallery import Gallery
from tests.conftest import ROOT, TZ, real_clock_env
from tests.test_console import CHROMIUM

pytestmark = pytest.mark.slow
LISTED_ID = "11010519491231002X"
# Data, not words: names, ids, plates and list names stay as they are in any language.
DATA = ["gate-cam", "walkway-cam", "walkway", "gongan-110", "W1", "DEADBEEF01", "Li Lei",
        "L1-in", "L1", "V1", "S001", "S002", "T001", "6200000001", "1778384907", "116,23152",
        "v-1", "wang", "guard", "demo", "police", "cli", "/dev/ttyUSB0"]


def alert_samples(store: Store, desk: VisitorDesk) -> dict[str, dict[str, Any]]:
    """Details of each alert type as its producer writes them."""
    card = rules.unknown_card("DEADBEEF01", "L1-in", True).alerts[0].details
    code = rules.unknown_card("GP-XYZ", "L1-in", False).alerts[0].details
    tail = rules.tailgating(2, 1)
    plate = rules.decide_plate("京A12345", 0.91, [rules.WatchPlate("gongan-110", "京A12345",
                                                                   "被盗车辆", 0)], None)
    flagged = desk.register(Registration("赵某", "resident-id", LISTED_ID, "+86 139 0000 0000",
                                         "找人", "T001", 30), "guard")
    rows = {r["type"]: r["details"] for r in store.query(
        "SELECT type, details FROM alerts WHERE type LIKE 'visitor_%'")}
    assert flagged["screening"] == "flagged" and tail is not None
    import json
    samples: dict[str, dict[str, Any]] = {
        "alert_escalated": {"original_type": "tailgating", "unacknowledged_minutes": 5},
        "anti_passback": {"last_passage": "arrival"},
        "card_face_mismatch": {"card_holder": "S002", "face_identified_as": "S001",
                               "face_identified_name": "Li Lei", "distance": 0.61},
        "circling_vehicle": {"plate": "京A12345", "passes": 3, "zone": "walkway"},
        "device_offline": {"device": "reader L1-in", "kind": "reader"},
        "device_online": {"device": "camera gate-cam", "kind": "camera"},
        "early_departure": {"during": "lessons"},
        "fire_alarm": {"lanes": ["L1", "V1"], "released": 2, "source": "fire alarm input"},
        "gate_forced": {"lane": "L1"},
        "intrusion": {"zone": "walkway", "object": "person"},
        "loitering": {"zone": "walkway", "dwell_s": 312},
        "service_fault": {"component": "reader-loop-L1-in", "restarting": True},
        "spoof_attempt": {"card_holder": "S001", "liveness": 0.12},
        "tailgating": tail.details,
        "unknown_card": card,
        "unknown_pass": code,
        "visitor_flagged": json.loads(rows["visitor_flagged"]),
        "visitor_overstay": {"visitor": {"name": "周丽"}, "minutes_over": 20},
        "visitor_registered": json.loads(rows["visitor_registered"]),
        "visitor_restricted_zone": {"visitor": {"name": "周丽"}, "zone": "walkway"},
        "watchlist_face": {"entry": "W1", "list": "gongan-110", "camera": "gate-cam",
                           "distance": 0.41},
        "watchlist_plate": plate.alerts[0].details,
        "watchlist_rejected": {"list": "gongan-110"},
    }
    for kind in AlertType:  # a fire input fault, say, once the lead's issue 24 adds it
        samples.setdefault(str(kind), {})
    return samples


def screening_reasons(store: Store, desk: VisitorDesk) -> list[str]:
    """Every kind of reason the desk's screening writes, from the real screening."""
    apply_watchlist(store, parse_payload(
        b'{"schema": "campus-gate/watchlist/1", "list": "gongan-110", "persons": [{"id": "W1",'
        b' "name": "\\u8d75\\u67d0", "id_number": "11010519491231002X", "reason": "x"}],'
        b' "plates": [{"text": "\\u4eacA12345"}]}'), "police", None)
    desk.register(Registration("钱某", "resident-id", "110101198003070025", "+86 139 0000 0001",
                               "送货", "T001", 30), "guard")
    face = np.full(128, 0.05, dtype=np.float32)
    desk.watch_faces = Gallery.from_rows([("gongan-110/W1", face.tobytes())])
    reasons = list(desk.screen("赵某", "resident-id", LISTED_ID, "京A12345", face).reasons)
    reasons += list(desk.screen("孙某", "resident-id", "110101198003070025", None,
                                None).reasons)  # the same document, another name
    police = PoliceListMock({"110101198003070025"})
    try:
        reasons.append(RemoteScreening(police.url, 3.0).check(
            "resident-id", "110101198003070025", "钱某")[1])
    finally:
        police.stop()
    reasons.append(RemoteScreening("http://127.0.0.1:9/screen", 0.5).check(
        "resident-id", "110101198003070025", "钱某")[1])
    kinds = ("watch list", "the same document", "plate on watch list", "face matches",
             "remote screening: hit", "remote screening unavailable")
    assert all(any(r.startswith(k) for r in reasons) for k in kinds), reasons
    return reasons


AUDIT_CALL = re.compile(r'(?:AuditRow\(|\.audit\()\s*[^,()]+(?:\([^)]*\))?,\s*f?"([a-z_{}]+)"'
                        r'(.{0,300}?)\)\s*(?:,|\)|$)', re.S | re.M)


def audit_codes() -> tuple[set[str], set[str]]:
    """The actions the gate writes to its audit log, and the keys of their details."""
    actions, keys = {"login", "login_failed"}, set()
    for path in (ROOT / "gate").rglob("*.py"):
        if "hub" in path.parts:  # the district hub has its own page
            continue
        for m in AUDIT_CALL.finditer(path.read_text(encoding="utf-8")):
            action = m.group(1)
            actions |= ({action.replace("{what}", w) for w in ("person", "plate")}
                        if "{what}" in action else {action})
            keys |= set(re.findall(r'"([a-z_]+)":', m.group(2)))
    assert {"fire_reset", "manual_open", "visitor_host_decision"} <= actions
    assert {"note", "reason", "approve"} <= keys
    return actions, keys


def component_names() -> list[str]:
    """The names the supervisor and the device monitor give (gate/service.py)."""
    text = (ROOT / "gate" / "service.py").read_text(encoding="utf-8")
    names = set(re.findall(r'add_(?:loop|probe)\(\s*f?"([^"]+)"', text))
    samples = {"reader_id": "L1-in", "cam.id": "gate-cam", "job.camera_id": "gate-cam",
               "lane_id": "L1", "reader.reader_id": "L1-in"}
    out = []
    for n in names:
        out.append(re.sub(r"\{([^}]+)\}", lambda m: samples.get(m.group(1), "L1"), n))
    assert any(n.startswith("reader-loop-") for n in out) and "scheduler" in out
    return sorted(out)


DEVICE_STATES = ["online", "offline", "no_report", "closed", "open", "held", "fire_released",
                 "connected", "disconnected", "backlog", "refused", "running", "down",
                 "not_configured", "fault", "alarm", "released", "normal"]


def test_device_states_are_the_ones_the_service_gives() -> None:
    text = (ROOT / "gate" / "service.py").read_text(encoding="utf-8")
    for state in DEVICE_STATES:
        assert f'"{state}"' in text, state


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = Store(tmp_path_factory.mktemp("words"), TZ)
    try:
        with store.transaction() as db:
            db.execute("INSERT INTO people (id, name, role, created_at, updated_at) VALUES"
                       " ('T001', '王老师', 'staff', '2026-11-23T07:00:00+08:00',"
                       " '2026-11-23T07:00:00+08:00')")
        config = Config()
        desk = VisitorDesk(config, store, Journal(config, store))
        reasons = screening_reasons(store, desk)
        alerts = alert_samples(store, desk)
        actions, keys = audit_codes()
        return {"alerts": alerts, "reasons": reasons, "actions": sorted(actions),
                "details": {k: sample_value(k) for k in sorted(keys | {"y", "face_encodings"})},
                "components": component_names(), "states": DEVICE_STATES,
                "cards": ["hex:6200000001", "dec10:1778384907", "w26:116,23152"]}
    finally:
        store.close()


def sample_value(key: str) -> Any:
    return {"approve": True, "admit": False, "card": "hex:6200000001", "screening": "flagged",
            "role": "guard", "method": "console", "note": "复位", "reason": "送药"}.get(key, 3)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(ROOT / "gate" / "console"))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, env=real_clock_env(),
                                     args=["--no-sandbox", "--disable-gpu"])
        p = browser.new_page()
        p.route(f"{base}/blank", lambda r: r.fulfill(body="<!doctype html><title>w</title>",
                                                     content_type="text/html"))
        errors: list[str] = []
        p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        p.goto(f"{base}/blank")
        p.errors = errors  # type: ignore[attr-defined]
        yield p
        browser.close()
    server.shutdown()
    server.server_close()


RENDER = """async ([lang, s]) => {
  const core = await import("/static/core.js");
  const live = await import("/static/live.js");
  const evidence = await import("/static/evidence.js");
  core.state.lang = lang;
  const out = {};
  for (const [type, details] of Object.entries(s.alerts)) {
    const g = { type, severity: "critical", lane: "L1", details, person_name: "Li Lei", count: 1 };
    const sev = core.word("severity", "critical");
    out[`alert ${type}`] = `${sev} ${core.word("alert", type)} ${live.alertWhat(g)}`;
  }
  s.reasons.forEach((r, i) => { out[`reason ${i}: ${r}`] = core.screeningReason(r); });
  for (const a of s.actions) out[`audit ${a}`] = evidence.actionWords(a);
  out["audit details"] = core.auditDetails(JSON.stringify(s.details));
  for (const kind of ["visitor", "person", "alert"]) {
    out[`target ${kind}`] = core.auditTarget({ target: "0f1e2d3c-aaaa-bbbb-cccc-000000000001",
      target_kind: kind, target_name: kind === "alert" ? "tailgating" : "Li Lei" });
  }
  for (const kind of ["lane", "reader", "camera"]) {
    out[`target ${kind}`] = core.auditTarget({ target: `${kind}:L1` });
  }
  for (const c of s.components) out[`component ${c}`] = core.deviceName(c);
  for (const st of s.states) out[`state ${st}`] = core.word("device_state", st);
  for (const key of ["ui.reader", "ui.camera", "ui.relay", "ui.fire_input", "ui.broker",
    "ui.component", "ui.device_name", "ui.last_activity", "ui.fire_none_help", "relay_kind.dry-run",
    "relay_kind.lcus", "fire_kind.serial-io", "fire_kind.gpio", "fire_kind.simulated"]) {
    out[`devices page ${key}`] = core.t(key, { fps: 8, n: 3 });
  }
  const rate = core.t("ui.fps", { fps: 8 });
  out["devices page rates"] = `${rate} ${core.t("ui.analysed", { fps: 2 })}`;
  for (const c of s.cards) out[`card ${c}`] = core.cardText(c);
  // the browser's validation bubble: a required field left empty, a note too short
  const form = document.createElement("form");
  form.innerHTML = '<input name="a" required><input name="b" minlength="2" value="x">';
  document.body.append(form);
  form.elements.a.checkValidity();
  out["validation required"] = form.elements.a.validationMessage;
  form.elements.a.value = "复位";
  form.elements.a.dispatchEvent(new Event("input", { bubbles: true }));
  out["validation cleared"] = form.elements.a.validationMessage || "—";
  form.remove();
  return out;
}"""


def english_left(text: str) -> list[str]:
    for token in sorted(DATA, key=len, reverse=True):
        text = text.replace(token, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


def test_every_word_in_both_languages(page: Page, samples: dict[str, Any]) -> None:
    zh = page.evaluate(RENDER, ["zh-CN", samples])
    en = page.evaluate(RENDER, ["en", samples])
    assert not page.errors, page.errors  # type: ignore[attr-defined]  # a missing key logs
    assert {k for k in zh if k.startswith("alert ")} == {f"alert {t}" for t in AlertType}
    left = {k: english_left(v) for k, v in zh.items() if english_left(v)}
    assert left == {}, "English in zh-CN:\n" + "\n".join(f"{k}: {zh[k]}" for k in left)
    for key, text in en.items():
        assert text.strip() and "undefined" not in text and "{" not in text, (key, text)
        assert text != zh[key] or key.startswith("card ") or not re.search(
            "[\u4e00-\u9fff]", text), (key, text)
    # cards as the roster wrote them, not hex:...
    assert zh["card hex:6200000001"] == "6200000001"
    assert zh["card dec10:1778384907"] == "1778384907"
    # the flagged visitor's reasons are words, the visitor named
    assert "赵某" in zh["alert visitor_flagged"] and "公安核查" not in zh["alert unknown_card"]
    assert "尾随" in zh["alert alert_escalated"]
    assert zh["validation required"] == "请填写此项" and zh["validation cleared"] == "—"
