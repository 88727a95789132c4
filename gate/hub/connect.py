"""Connections to the cluster and the database, with passwords from files or credentials."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from gate.hub.config import HubConfig, read_secret


def amqp_urls(config: HubConfig) -> list[str]:
    secret = read_secret(config.amqp.password_file)
    if secret is None:
        return list(config.amqp.urls)
    out = []
    for url in config.amqp.urls:
        parts = urlsplit(url)
        user = parts.username or "hub"
        host = parts.hostname or "127.0.0.1"
        netloc = f"{user}:{quote(secret, safe='')}@{host}" + (
            f":{parts.port}" if parts.port else "")
        out.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
    return out


def pg_connect(config: HubConfig) -> psycopg.Connection[Any]:
    password = read_secret(config.postgres.password_file)
    if password:
        return psycopg.connect(config.postgres.dsn, autocommit=True, password=password)
    return psycopg.connect(config.postgres.dsn, autocommit=True)
