"""Watch lists down to every gate (also after a node restart and for a gate new to the
cluster), and shared across districts through RabbitMQ shovels with hits reported back."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pika
import psycopg
import pytest

from gate.broker import LocalBroker
from gate.hub import watchlists
from gate.hub.config import HubConfig
from gate.hub.schema import migrate
from gate.hub.sharing import ShareConsumer, shovel_definitions
from gate.hub.simulate import now_rfc3339
from gate.watchlist import parse_payload
from tests.hub_helpers import (
    RabbitCluster,
    bridge_config,
    hub_config,  # noqa: F401
    needs_hub,
    postgres,  # noqa: F401
    power_cut,
    rabbit,  # noqa: F401
    wait_for,
)
from tests.test_hub_ingest import declare_queue, event, running_consumer
from tests.test_hub_transport import Client


def watchlist(name: str, version: str, plate: str = "京A12345") -> dict[str, Any]:
    return {"schema": "campus-gate/watchlist/1", "list": name, "version": version,
            "plates": [{"text": plate, "reason": "test"}]}


class BridgedGate:
    """A gate's own Mosquitto bridged to the cluster with the shipped bridge config, and the
    gate service's view of it: a subscriber on the gate's broker."""

    def __init__(self, cluster: RabbitCluster, site: str, gate: str) -> None:
        self.site, self.gate = site, gate
        self.broker = LocalBroker(extra=bridge_config(cluster.mqtt_ports, site, gate)).start()
        self.inbox = Client(self.broker.port, subscribe=[f"campus/{site}/watchlist/#"])
        self.publisher = Client(self.broker.port)

    def online(self) -> None:
        assert self.publisher.publish(f"campus/{self.site}/{self.gate}/status", {
            "schema": "campus-gate/status/1", "state": "online", "version": "t",
            "ts": now_rfc3339(), "site": self.site, "gate": self.gate})

    def latest(self, name: str, timeout: float = 30) -> dict[str, Any]:
        """Waits for a copy of list ``name``; returns the newest one received meanwhile."""
        got: dict[str, Any] | None = None
        deadline = time.monotonic() + timeout
        while True:
            wait = deadline - time.monotonic() if got is None else 1.5
            try:
                _topic, body = self.inbox.next(timeout=max(wait, 0.01))
            except queue.Empty:
                if got is None:
                    raise AssertionError(
                        f"list {name} did not reach {self.site}/{self.gate}") from None
                return got
            if body.get("list") == name:
                got = body

    def close(self) -> None:
        self.inbox.close()
        self.publisher.close()
        self.broker.stop()


@contextmanager
def gates(cluster: RabbitCluster, *pairs: tuple[str, str]) -> Iterator[list[BridgedGate]]:
    with ExitStack() as stack:
        out = []
        for site, gate in pairs:
            g = BridgedGate(cluster, site, gate)
            stack.callback(g.close)
            out.append(g)
        yield out


@pytest.mark.slow
@needs_hub
def test_a_list_reaches_every_gate_also_after_a_node_restart_and_a_new_gate(
        rabbit: RabbitCluster, hub_config: HubConfig) -> None:  # noqa: F811
    declare_queue(hub_config)
    db = psycopg.connect(hub_config.postgres.dsn, autocommit=True)
    migrate(db)
    try:
        with running_consumer(hub_config), gates(rabbit, ("zqxx", "main"),
                                                 ("hxxx", "main")) as (a, b):
            for g in (a, b):
                g.online()
            wait_for(lambda: len(watchlists.known_sites(db)) == 2, 30, "both schools online")
            assert watchlists.publish(hub_config, db, watchlist("police", "v1")) == 2
            for g in (a, b):
                body = g.latest("police")
                assert body["version"] == "v1"
                parse_payload(json.dumps(body).encode())        # what the gate accepts
            power_cut(rabbit, rabbit.nodes[1])
            watchlists.publish(hub_config, db, watchlist("police", "v2"))
            for g in (a, b):
                assert g.latest("police")["version"] == "v2"
            # a gate that has never been on the cluster gets the list in force when online
            with gates(rabbit, ("zqxx", "east")) as (c,):
                c.online()
                assert c.latest("police")["version"] == "v2"
    finally:
        db.close()


@pytest.mark.slow
@needs_hub
def test_a_neighbours_list_reaches_our_gates_and_a_hit_goes_back_to_it(
        rabbit: RabbitCluster, hub_config: HubConfig) -> None:  # noqa: F811
    first = rabbit.nodes[0]
    first.ctl("add_vhost", "district-b", check=False)
    first.ctl("set_permissions", "-p", "district-b", "police", ".*", ".*", ".*")
    sharing = shovel_definitions("xa", "xb", our_uri="amqp:///%2F",
                                 their_uri="amqp:///district-b", their_vhost="district-b")
    vhosts = [{"name": "/"}, {"name": "district-b"}]
    # queues first: a shovel started before its source queue exists declares a classic one
    for part in ("queues", "parameters"):
        rabbit.import_definitions({"vhosts": vhosts, **{
            key: sharing["theirs"][key] + sharing["ours"][key]
            for key in ((part, "bindings") if part == "queues" else (part,))}})
    config = hub_config.model_copy(update={
        "district": "xa",
        "sharing": hub_config.sharing.model_copy(update={"neighbours": ["xb"]})})
    declare_queue(config)
    url = config.amqp.urls[0].replace("hub:hub-secret", "police:police-secret")
    their = pika.BlockingConnection(pika.URLParameters(url.rsplit("/", 1)[0] + "/district-b"))
    channel = their.channel()
    channel.queue_declare("police.hits", durable=True)
    channel.queue_bind("police.hits", "amq.topic", "campus.shared.hits.#")
    db = psycopg.connect(config.postgres.dsn, autocommit=True)
    migrate(db)
    share = ShareConsumer(config)
    thread = threading.Thread(target=share.run, daemon=True)
    thread.start()
    try:
        with running_consumer(config), gates(rabbit, ("zqxx", "main")) as (gate,):
            gate.online()
            wait_for(lambda: watchlists.known_sites(db) == ["zqxx"], 30, "the school online")
            channel.basic_publish("amq.topic", "campus.shared.watchlist.wanted",
                                  json.dumps(watchlist("wanted", "b1", "沪B77777")).encode(),
                                  pika.BasicProperties(delivery_mode=2))
            try:
                body = gate.latest("xb-wanted")
            except AssertionError:
                print(first.ctl("shovel_status", check=False))
                print(first.ctl("list_queues", "-p", "district-b", "name", "messages", check=False))
                print(first.ctl("list_queues", "name", "messages", check=False))
                print(db.execute("SELECT name, sites FROM watchlists").fetchall())
                raise
            assert body["plates"][0]["text"] == "沪B77777"
            parse_payload(json.dumps(body).encode())
            hit = {**event(), "schema": "campus-gate/alert/1", "type": "watchlist_plate",
                   "severity": "critical", "list": "xb-wanted", "plate": "沪B77777",
                   "reason": "test", "match": "exact", "snapshot": "snapshots/car.jpg"}
            assert gate.publisher.publish("campus/zqxx/main/alerts/watchlist_plate", hit)
            got = wait_for(lambda: channel.basic_get("police.hits", auto_ack=True)[2], 30,
                           "the hit back at the issuing district")
            report = json.loads(got)
            assert (report["id"], report["from_district"], report["list"], report["site"],
                    report["gate"], report["plate"]) == (hit["id"], "xa", "wanted", "zqxx",
                                                         "main", "沪B77777")
            assert report["ts"].startswith(hit["ts"][:19])
    finally:
        share.stop.set()
        thread.join(10)
        their.close()
        db.close()


def test_shipped_sharing_examples_hold_one_shovel_per_side() -> None:
    from tests.hub_helpers import ROOT

    for side, shovel in (("xb", "lists-xb-to-xa"), ("xa", "hits-xa-to-xb")):
        doc = json.loads((ROOT / "config" / "rabbitmq" / f"sharing-{side}.example.json")
                         .read_text())
        assert [p["name"] for p in doc["parameters"]] == [shovel]
        assert all(q["arguments"] == {"x-queue-type": "quorum"} for q in doc["queues"])
