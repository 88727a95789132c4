"""RabbitMQ definitions for a district: one user per gate, topic permissions, the hub queue.

A gate's RabbitMQ user may publish only under its own subtree (``{root}.{site}.{gate}.``) and
the notifications of its own site, and may read only its site's watch lists and its own
acknowledgements. RabbitMQ checks these per routing key (topic authorisation on ``amq.topic``,
which is where the MQTT plugin publishes), so a gate cannot speak for another gate.
Import with ``rabbitmqctl import_definitions FILE`` or ``load_definitions`` in rabbitmq.conf.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any

from gate.hub.topology import binding_keys

HASHING = "rabbit_password_hashing_sha256"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's stored form: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


@dataclass(frozen=True)
class GateAccount:
    site: str
    gate: str
    password: str

    @property
    def username(self) -> str:
        return f"gate-{self.site}-{self.gate}"


def _user(name: str, password: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "password_hash": password_hash(password), "hashing_algorithm": HASHING,
            "tags": tags or [], "limits": {}}


def gate_permissions(account: GateAccount, vhost: str, root: str,
                     exchange: str = "amq.topic") -> tuple[dict[str, Any], dict[str, Any]]:
    """(vhost permission, topic permission) of one gate user.

    The MQTT plugin names a persistent subscriber's queue ``mqtt-subscription-{client_id}qos1``:
    the gate's client id must be its user name, and the gate may create only that queue.
    """
    own_queue = rf"mqtt-subscription-{re.escape(account.username)}qos[01]"
    r, s, g = re.escape(root), re.escape(account.site), re.escape(account.gate)
    vhost_perm = {"user": account.username, "vhost": vhost, "configure": f"^{own_queue}$",
                  "write": rf"^({re.escape(exchange)}|{own_queue})$",
                  "read": rf"^({re.escape(exchange)}|{own_queue})$"}
    topic_perm = {
        "user": account.username, "vhost": vhost, "exchange": exchange,
        "write": rf"^{r}\.{s}\.({g}\.[^#*]+|(guardians|staff)\.[^.#*]+\.notifications)$",
        "read": rf"^{r}\.{s}\.(watchlist\..+|{g}\.acks)$",
    }
    return vhost_perm, topic_perm


def build(gates: list[GateAccount], *, hub_password: str, police_password: str,
          vhost: str = "/", root: str = "campus", queue: str | None = "hub.ingest",
          exchange: str = "amq.topic") -> dict[str, Any]:
    r = re.escape(root)
    users = [_user("hub", hub_password), _user("police", police_password)]
    permissions = [
        {"user": "hub", "vhost": vhost, "configure": r"^hub\.",
         "write": rf"^(hub\..*|{re.escape(exchange)}|amq\.default)$",
         "read": rf"^(hub\..*|{re.escape(exchange)})$"},
        {"user": "police", "vhost": vhost, "configure": r"^mqtt-subscription-police.*",
         "write": rf"^({re.escape(exchange)}|mqtt-subscription-police.*)$",
         "read": rf"^({re.escape(exchange)}|mqtt-subscription-police.*)$"},
    ]
    topic_permissions = [
        {"user": "hub", "vhost": vhost, "exchange": exchange,
         "write": rf"^{r}\.[^.]+\.([^.]+\.acks|watchlist\..+)$", "read": ".*"},
        {"user": "police", "vhost": vhost, "exchange": exchange,
         "write": rf"^{r}\.[^.]+\.([^.]+\.acks|watchlist\..+)$",
         "read": rf"^{r}\.[^.]+\.[^.]+\.(alerts\..+|status)$"},
    ]
    for account in gates:
        users.append(_user(account.username, account.password))
        vhost_perm, topic_perm = gate_permissions(account, vhost, root, exchange)
        permissions.append(vhost_perm)
        topic_permissions.append(topic_perm)
    return {
        "rabbit_version": "3.10.8",
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        # queue None: the hub declares its own (tests and benchmarks, one queue per run)
        "queues": [{"name": queue, "vhost": vhost, "durable": True, "auto_delete": False,
                    "arguments": {"x-queue-type": "quorum"}}] if queue else [],
        "exchanges": [],
        "bindings": [{"source": exchange, "vhost": vhost, "destination": queue,
                      "destination_type": "queue", "routing_key": key, "arguments": {}}
                     for key in binding_keys(root)] if queue else [],
        "policies": [],
        "parameters": [],
        "global_parameters": [],
    }
