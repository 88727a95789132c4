"""District page users and sessions: the gate console's rules (gate/console/auth.py), in
PostgreSQL, so every ``gate hub serve`` behind a load balancer shares them.

argon2id hashes; a random session token in a ``__Host-`` cookie of which only the SHA-256 is
stored; idle and absolute time-outs; CSRF token per session; per-account and per-client
login throttling; logins, failures and logouts audited. Roles: ``police`` (sees and
acknowledges alerts), ``bureau`` (the education bureau: sees schools and figures), ``admin``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gate.console.auth import (
    ACCOUNT_WINDOW_S,
    CLIENT_WINDOW_S,
    LOCKOUT_S,
    MIN_PASSWORD,
    USERNAME,
    AuthError,
    client_wait,
    lockout_until,
)

Role = Literal["police", "bureau", "admin"]
ROLES = ("police", "bureau", "admin")
COOKIE = "__Host-hub_session"

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a real password, only for timing")


@dataclass(frozen=True)
class Session:
    username: str
    role: Role
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Db:
    """One connection shared by the page's worker threads, one statement group at a time.

    With ``reconnect`` (the page's case), a connection lost to a PostgreSQL restart or
    fail-over is replaced at the next request instead of failing every request after it.
    """

    def __init__(self, conn: psycopg.Connection[Any],
                 reconnect: Callable[[], psycopg.Connection[Any]] | None = None) -> None:
        self._conn = conn
        self._reconnect = reconnect
        self.lock = threading.Lock()

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The live connection; call with ``lock`` held."""
        if (self._conn.closed or self._conn.broken) and self._reconnect is not None:
            self._conn = self._reconnect()
        return self._conn

    def rows(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[Any]:
        with self.lock:
            return self.conn.execute(sql.encode(), params).fetchall()

    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        with self.lock:
            conn = self.conn
            with conn.transaction():
                for sql, params in statements:
                    conn.execute(sql.encode(), params)

    def audit(self, username: str | None, action: str, detail: str = "") -> None:
        self.run(("INSERT INTO hub_audit (username, action, detail) VALUES (%s, %s, %s)",
                  (username, action, detail)))


def add_user(db: Db, username: str, password: str, role: str) -> None:
    if not USERNAME.match(username):
        raise ValueError("a username is 2-32 letters, digits, _ . -")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    if role not in ROLES:
        raise ValueError("role must be police, bureau or admin")
    if db.rows("SELECT 1 FROM hub_users WHERE username = %s", (username,)):
        raise ValueError(f"user {username} exists")
    db.run(("INSERT INTO hub_users (username, password_hash, role) VALUES (%s, %s, %s)",
            (username, _hasher.hash(password), role)))
    db.audit("cli", "user_created", f"{username} ({role})")


class Authenticator:
    def __init__(self, db: Db, idle_s: float = 30 * 60, absolute_s: float = 12 * 3600) -> None:
        self.db = db
        self.idle_s = idle_s
        self.absolute_s = absolute_s

    def _failures(self, column: str, value: str, since: float) -> list[float]:
        rows = self.db.rows(f"SELECT ts_epoch FROM hub_login_attempts WHERE {column} = %s"
                            " AND ts_epoch > %s AND NOT success ORDER BY ts_epoch",
                            (value, since))
        return [float(r[0]) for r in rows]

    def _attempt(self, username: str, client: str, now: float, ok: bool, action: str) -> None:
        self.db.run(("INSERT INTO hub_login_attempts (username, client, ts_epoch, success)"
                     " VALUES (%s, %s, %s, %s)", (username, client, now, ok)),
                    ("DELETE FROM hub_login_attempts WHERE ts_epoch < %s", (now - 7 * 86400,)))
        self.db.audit(username, action, f"client {client}")

    def login(self, username: str, password: str, client: str) -> tuple[str, Session]:
        # The gate console's rules (gate/console/auth.py): a per-account lock-out that refused
        # attempts never extend, and a per-client limit that slows rather than blocks.
        now = time.time()
        until = lockout_until(self._failures("username", username,
                                             now - ACCOUNT_WINDOW_S - LOCKOUT_S))
        if until is not None and until > now:
            self.db.audit(username, "locked_out", f"client {client}")  # not a new failure
            raise AuthError("too many failed logins for this account; try again later", 429,
                            {"Retry-After": str(int(until - now) + 1)})
        wait = client_wait(self._failures("client", client, now - CLIENT_WINDOW_S), now)
        if wait > 0:
            self.db.audit(username, "login_slowed", f"client {client}")
            raise AuthError("too many failed logins from here; wait a moment", 429,
                            {"Retry-After": str(int(wait) + 1)})
        rows = self.db.rows("SELECT password_hash, role FROM hub_users WHERE username = %s",
                            (username,))
        stored = rows[0][0] if rows else _DUMMY
        try:
            _hasher.verify(stored, password)
            ok = bool(rows)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self._attempt(username, client, now, False, "login_failed")
            raise AuthError("wrong username or password")
        self._attempt(username, client, now, True, "login")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        self.db.run(("INSERT INTO hub_sessions (token_hash, username, csrf_token, created_epoch,"
                     " last_seen_epoch) VALUES (%s, %s, %s, %s, %s)",
                     (_digest(token), username, csrf, now, now)))
        return token, Session(username, rows[0][1], csrf)

    def session(self, token: str | None) -> Session:
        if not token:
            raise AuthError("not logged in")
        now = time.time()
        rows = self.db.rows(
            "SELECT s.username, s.csrf_token, s.created_epoch, s.last_seen_epoch, u.role"
            " FROM hub_sessions s JOIN hub_users u USING (username) WHERE s.token_hash = %s",
            (_digest(token),))
        if not rows:
            raise AuthError("session expired")
        username, csrf, created, last_seen, role = rows[0]
        if now - last_seen > self.idle_s or now - created > self.absolute_s:
            self.logout(token)
            raise AuthError("session expired")
        if now - last_seen > 30:
            self.db.run(("UPDATE hub_sessions SET last_seen_epoch = %s WHERE token_hash = %s",
                         (now, _digest(token))))
        return Session(username, role, csrf)

    def logout(self, token: str) -> None:
        self.db.run(("DELETE FROM hub_sessions WHERE token_hash = %s", (_digest(token),)))
