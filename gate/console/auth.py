"""Console users, sessions, CSRF and login throttling (OWASP ASVS 5.0 as the reference).

- Passwords: argon2id (argon2-cffi), never stored or logged in clear.
- Sessions: a random token in a ``__Host-`` cookie (Secure, HttpOnly, SameSite=Strict);
  only its SHA-256 is stored; idle and absolute time-outs; a new token at every login.
- CSRF: every state-changing request carries the session's token in ``X-CSRF-Token``.
- Login throttling: per account and per client, with a temporary lock-out.
- Every login, failed login and logout is written to the audit log.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gate.store import Store

Role = Literal["guard", "admin"]
COOKIE = "__Host-gate_session"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
MIN_PASSWORD = 10
ACCOUNT_FAILURES = 5  # failed logins per account within the window before a lock-out
CLIENT_FAILURES = 20  # failed logins per client address within the window
WINDOW_S = 15 * 60

_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY = _hasher.hash("not a real password, only for timing")


class AuthError(Exception):
    """Refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Session:
    username: str
    role: Role
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(store: Store, username: str, password: str, role: Role) -> None:
    if not USERNAME.match(username):
        raise ValueError("a username is 2-32 letters, digits, _ . -")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    if role not in ("guard", "admin"):
        raise ValueError("role must be guard or admin")
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise ValueError(f"user {username} exists")
        db.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES"
                   " (?,?,?,?)", (username, _hasher.hash(password), role,
                                  store.now().isoformat()))
    store.audit("cli", "user_created", username, {"role": role})


class Authenticator:
    def __init__(self, store: Store, idle_s: float, absolute_s: float) -> None:
        self.store = store
        self.idle_s = idle_s
        self.absolute_s = absolute_s

    def _failures(self, column: str, value: str, since: float) -> int:
        return int(self.store.query(
            f"SELECT COUNT(*) FROM login_attempts WHERE {column} = ? AND ts_epoch > ?"
            " AND success = 0", (value, since))[0][0])

    def login(self, username: str, password: str, client: str) -> tuple[str, Session]:
        """Returns (cookie token, session); raises AuthError (429 while locked out)."""
        now = time.time()
        since = now - WINDOW_S
        if (self._failures("username", username, since) >= ACCOUNT_FAILURES
                or self._failures("client", client, since) >= CLIENT_FAILURES):
            self._attempt(username, client, now, False, "locked_out")
            raise AuthError("too many failed logins; try again later", 429)
        rows = self.store.query("SELECT password_hash, role, disabled FROM users WHERE"
                                " username = ?", (username,))
        stored = rows[0]["password_hash"] if rows else _DUMMY
        try:
            _hasher.verify(stored, password)
            ok = bool(rows) and not rows[0]["disabled"]
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self._attempt(username, client, now, False, "login_failed")
            raise AuthError("wrong username or password")
        self._attempt(username, client, now, True, "login")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self.store.transaction() as db:
            db.execute("INSERT INTO sessions (token_hash, username, csrf_token, created_epoch,"
                       " last_seen_epoch, created_at) VALUES (?,?,?,?,?,?)",
                       (_digest(token), username, csrf, now, now, self.store.now().isoformat()))
            if _hasher.check_needs_rehash(stored):
                db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                           (_hasher.hash(password), username))
        return token, Session(username, rows[0]["role"], csrf)

    def _attempt(self, username: str, client: str, now: float, success: bool,
                 action: str) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT INTO login_attempts (username, client, ts_epoch, success) VALUES"
                       " (?,?,?,?)", (username, client, now, int(success)))
            db.execute("DELETE FROM login_attempts WHERE ts_epoch < ?", (now - 7 * 86400,))
        self.store.audit(username, action, None, {"client": client})

    def session(self, token: str | None) -> Session:
        if not token:
            raise AuthError("not logged in")
        now = time.time()
        rows = self.store.query(
            "SELECT s.username, s.csrf_token, s.created_epoch, s.last_seen_epoch, u.role,"
            " u.disabled FROM sessions s JOIN users u ON u.username = s.username"
            " WHERE s.token_hash = ?", (_digest(token),))
        if not rows:
            raise AuthError("session expired")
        row = rows[0]
        if (row["disabled"] or now - row["last_seen_epoch"] > self.idle_s
                or now - row["created_epoch"] > self.absolute_s):
            self.logout(token)
            raise AuthError("session expired")
        if now - row["last_seen_epoch"] > 30:  # one write per half minute, not per request
            with self.store.transaction() as db:
                db.execute("UPDATE sessions SET last_seen_epoch = ? WHERE token_hash = ?",
                           (now, _digest(token)))
        return Session(row["username"], row["role"], row["csrf_token"])

    def logout(self, token: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))
