"""The lower platform's HTTP client towards the upper platform, over httpx.

Digest authentication is httpx's own ``DigestAuth`` (MD5, qop=auth): it answers the 401
challenge of ``Register``, counts nonce uses, and answers a fresh challenge (an expired nonce,
``stale=true``) by itself. Every request carries ``User-Identify`` (our platform id), which is
how the upper platform knows a registered lower platform after ``Register``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import httpx

from gate.hub.viid import ids, objects


class NotRegistered(Exception):
    """The platform answered 401: (again) not registered, e.g. after it restarted."""


class Refused(Exception):
    """The platform answered, but not with success; nothing was taken."""


class NoAnswer(Exception):
    """Whether the platform took the request is unknown (timeout, dropped connection,
    an error status or an answer that is not a status list)."""


class ViidClient:
    def __init__(self, base_url: str, device_id: str, username: str, password: str,
                 timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.device_id = device_id
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
            auth=httpx.DigestAuth(username or device_id, password),
            headers={"User-Identify": device_id, "Content-Type": objects.CONTENT_TYPE,
                     "Accept": "application/VIID+JSON, application/json"})

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        try:
            resp = self.http.request(method, path, content=data)
        except httpx.ConnectError as exc:       # nothing reached the platform
            raise Refused(f"{path}: {exc}") from None
        except httpx.TransportError as exc:
            raise NoAnswer(f"{path}: {type(exc).__name__}") from None
        if resp.status_code == 401:
            raise NotRegistered(path)
        if resp.status_code != 200:
            raise NoAnswer(f"{path}: HTTP {resp.status_code}")
        try:
            return resp.json()
        except ValueError:
            raise NoAnswer(f"{path}: not JSON") from None

    def _status(self, path: str, body: dict[str, Any]) -> None:
        codes = objects.statuses_of(self._send("POST", path, body))
        if not codes or any(code != 0 for code in codes.values()):
            raise Refused(f"{path}: status {codes}")

    def register(self) -> None:
        self._status("/VIID/System/Register", objects.register(self.device_id))

    def keepalive(self) -> None:
        self._status("/VIID/System/Keepalive", objects.keepalive(self.device_id))

    def unregister(self) -> None:
        self._status("/VIID/System/UnRegister", objects.unregister(self.device_id))

    def server_time(self, tz: str) -> dt.datetime:
        body = self._send("GET", "/VIID/System/Time")
        try:
            return ids.parse_viid_time(body["SystemTimeObject"]["LocalTime"], tz)
        except (KeyError, TypeError, ValueError):
            raise NoAnswer("/VIID/System/Time: no SystemTimeObject") from None

    def post(self, kind: str, items: list[dict[str, Any]]) -> dict[str, int]:
        """POSTs a list of one kind; returns object id -> StatusCode as answered."""
        _outer, _inner, path = objects.LIST_KEYS[kind]
        return objects.statuses_of(self._send("POST", path, objects.list_body(kind, items)))

    def exists(self, kind: str, object_id: str) -> bool:
        """Whether the platform already holds the object (to settle an unanswered POST)."""
        outer, inner, path = objects.LIST_KEYS[kind]
        name = inner.removesuffix("Object")
        key = objects.ID_KEYS[kind]
        body = self._send("GET", f"{path}?{name}.{key}={quote(object_id)}")
        found = ((body or {}).get(outer) or {}).get(inner) or [] if isinstance(body, dict) else []
        return any(isinstance(o, dict) and o.get(key) == object_id for o in found)
