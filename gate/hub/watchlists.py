"""Watch lists down to the gates, and again to any gate that comes online.

A list goes to ``{root}.{site}.watchlist.{name}`` on the MQTT plugin's exchange for each
school it is meant for. Each gate's bridge has a persistent session whose queue is a quorum
queue (``mqtt.durable_queue_type = quorum``), so a list sent while the gate is away, or while a
node is down, waits replicated on the surviving nodes. A gate new to the cluster has no such
queue yet, and RabbitMQ's retained messages live on one node only, so the hub keeps the list
in force in PostgreSQL and sends it again whenever a gate reports ``online``.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from gate.hub import downlink
from gate.hub.config import HubConfig
from gate.hub.downlink import watchlist_routing_key


def save(conn: psycopg.Connection[Any], payload: dict[str, Any], origin: str = "",
         sites: list[str] | None = None) -> None:
    conn.execute(
        "INSERT INTO watchlists (name, origin, sites, version, payload) VALUES (%s,%s,%s,%s,%s)"
        " ON CONFLICT (name) DO UPDATE SET origin = excluded.origin, sites = excluded.sites,"
        " version = excluded.version, payload = excluded.payload, updated_at = now()",
        (payload["list"], origin, sites, str(payload.get("version", "")), Jsonb(payload)))


def known_sites(conn: psycopg.Connection[Any]) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT site FROM gate_status ORDER BY site")]


def lists_for(conn: psycopg.Connection[Any], site: str) -> list[dict[str, Any]]:
    return [r[0] for r in conn.execute(
        "SELECT payload FROM watchlists WHERE sites IS NULL OR %s = ANY(sites) ORDER BY name",
        (site,))]


def messages(root: str, sites: list[str], payload: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(routing key, body) per school for one list."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return [(watchlist_routing_key(root, site, payload["list"]), body) for site in sites]


def shared_name(origin: str, name: str) -> str:
    """A neighbour's list keeps its origin in its name, so hits can be sent back to it."""
    return f"{origin}-{name}"[:64]


def origin_of(list_name: str, neighbours: list[str]) -> str | None:
    for origin in neighbours:
        if list_name.startswith(f"{origin}-"):
            return origin
    return None


def publish(config: HubConfig, conn: psycopg.Connection[Any], payload: dict[str, Any],
            sites: list[str] | None = None) -> int:
    """Keeps the list and sends it to its schools (every known school without ``sites``);
    returns how many schools it went to."""
    save(conn, payload, sites=sites)
    targets = sites if sites is not None else known_sites(conn)
    downlink.publish_many(config, messages(config.root, targets, payload))
    return len(targets)
