"""Watch ``gate demo`` in Chromium as a guard would, for 20 minutes (issue 28's measurement).

Starts the demo, logs in on the live page (zh-CN), and records every alert the page is sent
over its WebSocket; at the end it counts the critical ones by type, saves screenshots of the
live page and the devices page in both languages under test-artifacts/, counts the audit rows
written meanwhile, and writes test-artifacts/demo-watch.json. Run from a checkout:

    python scripts/watch_demo.py [--minutes 20] [--speed 10]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=10.0)
    args = ap.parse_args()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "demo-watch.log"
    watch_s = args.minutes * 60
    with log_path.open("wb") as log:
        demo = subprocess.Popen([sys.executable, "-m", "gate", "demo", "--speed",
                                 str(args.speed), "--duration", str(watch_s + 120)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        url, user, password = _console(log_path, demo)
        received: list[dict[str, Any]] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(locale="zh-CN",
                                          viewport={"width": 1280, "height": 900})
            context.add_init_script("localStorage.setItem('lang', 'zh-CN')")
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.extend(
                _alerts(frame))))
            page.goto(url)
            logins = 0

            def login() -> None:
                nonlocal logins
                page.fill("#login-form input[name=username]", user)
                page.fill("#login-form input[name=password]", password)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("#feed")
                logins += 1

            login()
            started = time.monotonic()
            while time.monotonic() - started < watch_s:
                if demo.poll() is not None:
                    raise RuntimeError("the demo stopped during the watch")
                page.wait_for_timeout(30_000)
                # A guard looks at the roll call the fire alarm opened, then goes back to the
                # live page (which keeps the session alive while it is shown).
                if page.locator("#login").is_visible():
                    login()
                if not page.url.endswith("#live") and "#rollcall" in page.url:
                    page.wait_for_timeout(20_000)
                    page.goto(f"{url}#live")
                crit = sum(1 for a in received if a.get("severity") == "critical")
                print(f"{(time.monotonic() - started) / 60:5.1f} min: {len(received)} alerts"
                      f" received, {crit} critical", flush=True)
            queue = page.evaluate("fetch('/api/alerts/queue').then((r) => r.json())")
            # What the inspector reads: the audit rows written while the live page was open
            # (issue 26: a page left open must not read as someone viewing pupils' pictures).
            audit = page.evaluate("fetch('/api/audit?limit=1000').then((r) => r.json())")
            watched_min = (time.monotonic() - started) / 60
            shots = []
            for lang in ("zh-CN", "en"):
                if lang == "en":
                    page.click("#lang")
                    page.wait_for_timeout(1500)
                for name in ("live", "devices"):
                    page.goto(f"{url}#{name}")
                    page.wait_for_timeout(3000)
                    path = ARTIFACTS / f"demo-watch-{name}-{lang}.png"
                    page.screenshot(path=str(path), full_page=True)
                    shots.append(path.name)
            browser.close()
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(120)
    critical = Counter(a["type"] for a in received if a.get("severity") == "critical")
    result = {"minutes": args.minutes, "speed": args.speed,
              "alerts_received": dict(Counter(a["type"] for a in received)),
              "critical_received": dict(critical), "critical_total": sum(critical.values()),
              "open_queue": [{"type": g["type"], "severity": g["severity"], "count": g["count"]}
                             for g in queue.get("groups", [])], "logins": logins,
              "console_errors": errors, "screenshots": shots,
              "audit_rows": len(audit), "audit_rows_per_hour": round(len(audit) * 60 / watched_min),
              "audit_actions": dict(Counter(r.get("action") for r in audit)),
              "demo_summary": [line for line in log_path.read_text(errors="replace").splitlines()
                               if line.startswith(("events:", "alerts:", "journal:"))]}
    (ARTIFACTS / "demo-watch.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


def _alerts(frame: str | bytes) -> list[dict[str, Any]]:
    try:
        message = json.loads(frame)
    except ValueError:
        return []
    return list(message.get("alerts") or []) if isinstance(message, dict) else []


def _console(log_path: Path, demo: subprocess.Popen[bytes]) -> tuple[str, str, str]:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        m = re.search(r"console: (http://localhost:\d+/)  login: (\S+) / (\S+)",
                      log_path.read_text(errors="replace"))
        if m:
            return m.group(1), m.group(2), m.group(3)
        if demo.poll() is not None:
            raise RuntimeError(log_path.read_text(errors="replace")[-2000:])
        time.sleep(0.5)
    raise RuntimeError("the demo's console did not come up")


if __name__ == "__main__":
    raise SystemExit(main())
