"""/metrics behind its bearer token, scraped through a real FastAPI app and the real store."""

from __future__ import annotations

import datetime as dt
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gate.metrics import GateMetrics, metrics_router
from gate.records import Alert, Event, OutboxMessage
from gate.store import Store

TOKEN = "s3cret-scrape-token"


def _value(text: str, sample: str) -> float:
    """The value of one exposition line, e.g. ``gate_decisions_total{verdict="open"}``."""
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in scrape:\n{text}"
    return float(match.group(1))


def _client(metrics: GateMetrics, token: str | None = TOKEN) -> TestClient:
    app = FastAPI()
    app.include_router(metrics_router(token, metrics))
    return TestClient(app)


def _scrape(client: TestClient) -> str:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def test_token_is_required_and_checked() -> None:
    client = _client(GateMetrics())
    assert client.get("/metrics").status_code == 401
    bad = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    assert _client(GateMetrics(), token=None).get(
        "/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_decision_counts_and_latency_rise() -> None:
    m = GateMetrics()
    client = _client(m)
    m.observe_decision("open", 0.04)
    before = _scrape(client)
    assert _value(before, 'gate_decisions_total{verdict="open"}') == 1
    m.observe_decision("open", 0.03)
    m.observe_decision("deny", 1.2)
    after = _scrape(client)
    assert _value(after, 'gate_decisions_total{verdict="open"}') == 2
    assert _value(after, 'gate_decisions_total{verdict="deny"}') == 1
    assert _value(after, "gate_decision_seconds_count") == 3
    assert _value(after, 'gate_decision_seconds_bucket{le="0.05"}') == 2
    assert _value(after, 'gate_decision_seconds_bucket{le="1.0"}') == 2
    assert _value(after, "gate_decision_seconds_sum") == 1.27


def test_per_camera_device_and_broker_figures() -> None:
    m = GateMetrics()
    m.observe_recognition("gate-cam", 0.3)
    m.set_queue_depth("gate-cam", 2)
    m.count_dropped_frames("gate-cam", 5)
    m.set_broker_connected(True)
    m.set_device_up("reader", "L1-in", True)
    m.set_device_up("camera", "gate-cam", False)
    m.count_clock_jump()
    text = _scrape(_client(m))
    assert _value(text, 'gate_recognition_seconds_count{camera="gate-cam"}') == 1
    assert _value(text, 'gate_recognition_queue_depth{camera="gate-cam"}') == 2
    assert _value(text, 'gate_frames_dropped_total{camera="gate-cam"}') == 5
    assert _value(text, "gate_broker_connected") == 1
    assert _value(text, 'gate_device_up{device="L1-in",kind="reader"}') == 1
    assert _value(text, 'gate_device_up{device="gate-cam",kind="camera"}') == 0
    assert _value(text, "gate_clock_jumps_total") == 1


def test_outbox_and_alerts_are_read_from_the_store_at_scrape(store: Store) -> None:
    m = GateMetrics()
    m.watch_store(store)
    client = _client(m)
    text = _scrape(client)
    assert _value(text, "gate_outbox_backlog") == 0
    assert _value(text, "gate_outbox_oldest_age_seconds") == 0
    assert _value(text, 'gate_alerts_unacknowledged{severity="critical"}') == 0

    now = store.now()
    store.record_event(Event("arrival", now, lane="L1"),
                       [OutboxMessage("m1", "campus/zqxx/main/events/arrival", "{}")])
    store.record_alert(Alert("unknown_card", "critical", now),
                       [OutboxMessage("m2", "campus/zqxx/main/alerts/unknown_card", "{}")])
    # Make the first message look old, as after a broker outage.
    store.query("UPDATE outbox SET created_at = ? WHERE msg_id = 'm1'",
                ((now - dt.timedelta(minutes=10)).isoformat(),))
    text = _scrape(client)
    assert _value(text, "gate_outbox_backlog") == 2
    assert 595 < _value(text, "gate_outbox_oldest_age_seconds") < 700
    assert _value(text, 'gate_alerts_unacknowledged{severity="critical"}') == 1

    store.mark_sent_many([r.seq for r in store.pending_outbox()])
    store.query("UPDATE alerts SET acknowledged_at = ?", (now.isoformat(),))
    text = _scrape(client)
    assert _value(text, "gate_outbox_backlog") == 0
    assert _value(text, 'gate_alerts_unacknowledged{severity="critical"}') == 0


def test_label_values_are_capped() -> None:
    m = GateMetrics()
    m.observe_decision("bad label\nwith {braces}" + "x" * 100, 0.1)
    text = _scrape(_client(m))
    line = next(ln for ln in text.splitlines() if ln.startswith("gate_decisions_total{"))
    label = line.split('"')[1]
    assert len(label) == 64 and " " not in label and "{" not in label


def test_dashboard_queries_only_metrics_that_exist() -> None:
    import json

    from tests.conftest import ROOT

    dash = json.loads((ROOT / "config" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs.append(dash["templating"]["list"][0]["definition"])
    used = {name for e in exprs for name in re.findall(r"\bgate_[a-z_]+", e)}
    m = GateMetrics()
    m.observe_decision("open", 0.1)
    m.observe_recognition("c", 0.1)
    m.set_queue_depth("c", 1)
    m.count_dropped_frames("c")
    m.set_device_up("reader", "r", True)
    m.alerts_unacknowledged.labels("critical").set(0)
    exposed = {line.split("{")[0].split(" ")[0] for line in m.exposition().decode().splitlines()
               if line and not line.startswith("#")}
    assert used and used <= exposed, used - exposed
    assert len(used) >= 10


def test_readme_documents_every_metric() -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(gate_[a-z_]+)`", section, re.MULTILINE))
    m = GateMetrics()
    families = {metric.name for metric in m.registry.collect()}
    # counters are documented with the _total their samples carry, info with _info
    exposed = {f"{name}_total" if f"{name}_total" in documented else
               f"{name}_info" if f"{name}_info" in documented else name for name in families}
    assert documented == exposed, (documented ^ exposed)
