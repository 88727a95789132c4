"""The hub consumer on the real RabbitMQ cluster and PostgreSQL: stored once, nothing biometric."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
import pika
import psycopg
import pytest

from gate.hub.config import HubConfig
from gate.hub.consumer import Consumer
from gate.hub.ingest import Rejected, parse, strip_biometrics
from gate.hub.schema import migrate, migrations
from gate.hub.simulate import now_rfc3339
from gate.hub.topology import declare
from gate.mqtt import close_client
from tests.hub_helpers import (
    Postgres,
    RabbitCluster,
    gate_client,
    hub_config,  # noqa: F401
    needs_hub,
    postgres,  # noqa: F401
    rabbit,  # noqa: F401
    wait_for,
)


def event(site: str = "zqxx", gate: str = "main", **extra: Any) -> dict[str, Any]:
    body = {"schema": "campus-gate/event/1", "id": str(uuid.uuid4()), "ts": now_rfc3339(),
            "site": site, "gate": gate, "type": "arrival", "severity": "info", "lane": "L1",
            "direction": "entry", "method": "card", "decision": "admit",
            "person": {"id": "P1", "name": "张三", "role": "student", "class": "3-2"}}
    body.update(extra)
    return body


def test_parse_takes_site_and_gate_from_the_routing_key() -> None:
    body = event()
    rec = parse("campus.zqxx.main.events.arrival", json.dumps(body).encode())
    assert rec is not None and rec.key == ("zqxx", "main", body["id"]) and rec.kind == "event"
    with pytest.raises(Rejected, match="gate"):
        parse("campus.zqxx.east.events.arrival", json.dumps(body).encode())
    with pytest.raises(Rejected, match="type"):
        parse("campus.zqxx.main.events.departure", json.dumps(body).encode())
    with pytest.raises(Rejected, match="JSON"):
        parse("campus.zqxx.main.events.arrival", b"\xff")
    with pytest.raises(Rejected, match="offset"):
        parse("campus.zqxx.main.events.arrival",
              json.dumps(event(ts="2026-01-01T08:00:00")).encode())


def test_notifications_watch_lists_and_acks_are_not_kept() -> None:
    for key in ("campus.zqxx.guardians.G1.notifications", "campus.zqxx.staff.T1.notifications",
                "campus.zqxx.watchlist.police", "campus.zqxx.main.acks", "other.zqxx.main.status"):
        assert parse(key, b"{}") is None


def test_biometric_fields_are_dropped_at_any_depth() -> None:
    body = event(encoding=[0.1] * 128, snapshot="snap/abc.jpg",
                 match={"face_crop": "AAAA", "distance": 0.4, "embedding": [1, 2]})
    assert strip_biometrics(body)["match"] == {"distance": 0.4}
    assert "encoding" not in strip_biometrics(body)
    assert strip_biometrics(body)["snapshot"] == "snap/abc.jpg"


def test_migrations_are_numbered_from_one() -> None:
    assert [v for v, _n, _s in migrations()] == list(range(1, len(migrations()) + 1))


@contextmanager
def running_consumer(config: HubConfig) -> Iterator[Consumer]:
    consumer = Consumer(config)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop.set()
        thread.join(15)


def declare_queue(config: HubConfig) -> None:
    """The hub's queue must exist before gates publish, or their messages are routed nowhere."""
    with pika.BlockingConnection(pika.URLParameters(config.amqp.urls[0])) as conn:
        declare(conn.channel(), config.amqp.queue, config.amqp.exchange, config.root)


def publish(client: mqtt.Client, topic: str, body: dict[str, Any]) -> None:
    info = client.publish(topic, json.dumps(body), qos=1)
    info.wait_for_publish(10)
    assert info.is_published()


@pytest.mark.slow
@needs_hub
def test_event_alert_and_status_stored_once_without_biometrics(
        hub_config: HubConfig, rabbit: RabbitCluster, postgres: Postgres) -> None:  # noqa: F811
    declare_queue(hub_config)
    client = gate_client(rabbit.mqtt_ports[1])
    try:
        ev = event(encoding=[0.5] * 128)
        alert = {**event(), "schema": "campus-gate/alert/1", "type": "unknown_card",
                 "severity": "warning", "snapshot": "snapshots/a1.jpg", "face_crop": "AAAA"}
        publish(client, "campus/zqxx/main/events/arrival", ev)
        publish(client, "campus/zqxx/main/events/arrival", ev)       # a QoS 1 redelivery
        publish(client, "campus/zqxx/main/alerts/unknown_card", alert)
        publish(client, "campus/zqxx/main/status",
                {"schema": "campus-gate/status/1", "state": "online", "version": "t",
                 "ts": now_rfc3339(), "site": "zqxx", "gate": "main"})
        publish(client, "campus/zqxx/guardians/G1/notifications",
                {**event(), "schema": "campus-gate/notification/1", "id": "note-1"})
        publish(client, "campus/zqxx/main/events/arrival", {"schema": "nonsense"})
        poison = event(person={"id": "P\u0000", "name": "nul"})   # jsonb refuses \u0000
        publish(client, "campus/zqxx/main/events/arrival", poison)
    finally:
        close_client(client)
    with running_consumer(hub_config), psycopg.connect(hub_config.postgres.dsn,
                                                       autocommit=True) as db:
        migrate(db)
        wait_for(lambda: db.execute("SELECT count(*) FROM rejected").fetchone()[0] == 2,  # type: ignore[index]
                 30, "the whole burst to be consumed")
        reasons = sorted(r[0] for r in db.execute("SELECT reason FROM rejected"))
        assert reasons[0].startswith("refused by PostgreSQL") and "schema" in reasons[1]
        events = db.execute("SELECT id, payload FROM events").fetchall()
        assert [r[0] for r in events] == [ev["id"]]
        assert "encoding" not in events[0][1] and events[0][1]["person"]["id"] == "P1"
        alerts = db.execute("SELECT id, snapshot, payload FROM alerts").fetchall()
        assert [(a[0], a[1]) for a in alerts] == [(alert["id"], "snapshots/a1.jpg")]
        assert "face_crop" not in alerts[0][2]
        assert db.execute("SELECT state FROM gate_status WHERE site='zqxx' AND gate='main'"
                          ).fetchone() == ("online",)
        dump = json.dumps([list(r) for r in db.execute(
            "SELECT payload FROM events UNION ALL SELECT payload FROM alerts")])
        assert "note-1" not in dump and "G1" not in dump
        assert db.execute("SELECT relname FROM pg_class c JOIN pg_inherits i"
                          " ON i.inhrelid = c.oid").fetchall()   # a monthly partition exists
        assert migrate(db) == []                                 # done once


def test_example_config_parses() -> None:
    from pathlib import Path

    from gate.hub.config import load_hub_config

    config = load_hub_config(Path(__file__).parent.parent / "config" / "hub.example.toml")
    assert len(config.amqp.urls) == 3 and config.amqp.queue == "hub.ingest"


def test_secrets_come_from_systemd_credentials_first(tmp_path: Any, monkeypatch: Any) -> None:
    from pathlib import Path

    from gate.config import ConfigError
    from gate.hub.config import read_secret

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "amqp.pass").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert read_secret(Path("/etc/campus-gate/amqp.pass")) == "from-systemd"
    with pytest.raises(ConfigError, match="cannot read"):
        read_secret(Path("/nonexistent/pg.pass"))


def test_dump_toml_round_trips() -> None:
    import tomllib

    from gate.hub.config import dump_toml, parse_hub_config

    config = parse_hub_config({"district": "xa", "amqp": {"urls": ["amqp://a/%2F"], "batch": 7},
                               "sharing": {"neighbours": ["xb"]},
                               "postgres": {"password_file": "/etc/x"}})
    assert parse_hub_config(tomllib.loads(dump_toml(config))) == config


@pytest.mark.slow
@needs_hub
def test_partitions_by_month_and_retention_drops_whole_months(
        postgres: Postgres) -> None:  # noqa: F811
    import datetime as dt

    from gate.hub.schema import drop_months_before
    from gate.hub.writer import Batch, Writer

    with psycopg.connect(postgres.new_database(), autocommit=True) as db:
        migrate(db)
        batch = Batch()
        for month in (1, 2, 3):
            ts = f"2026-0{month}-15T08:00:00.000+08:00"
            rec = parse("campus.zqxx.main.events.arrival", json.dumps(event(ts=ts)).encode())
            assert rec is not None
            batch.records.append(rec)
        Writer(db).write_batch(batch)
        parts = sorted(r[0] for r in db.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE c.relkind = 'r'"))
        assert parts == ["events_2026_01", "events_2026_02", "events_2026_03"]
        assert drop_months_before(db, dt.date(2026, 3, 10)) == ["events_2026_01",
                                                                "events_2026_02"]
        assert db.execute("SELECT count(*), count(*) FILTER (WHERE ts >= '2026-03-01')"
                          " FROM events").fetchone() == (1, 1)
        assert db.execute("SELECT count(*) FROM event_ids").fetchone() == (1,)
