"""Console users, sessions, CSRF and login throttling (OWASP ASVS 5.0 as the reference).

- Passwords: argon2id (argon2-cffi), never stored or logged in clear.
- Sessions: a random token in a ``__Host-`` cookie (Secure, HttpOnly, SameSite=Strict);
  only its SHA-256 is stored; idle and absolute time-outs; a new token at every login.
- CSRF: every state-changing request carries the session's token in ``X-CSRF-Token``.
- Login throttling, so that one keyboard cannot lock every guard out (guards share a
  desk, so they share a client address):
  * per account: ``ACCOUNT_FAILURES`` wrong passwords within ``ACCOUNT_WINDOW_S`` lock that
    account alone for ``LOCKOUT_S``; attempts refused during the lock-out are audited but
    are not failures, so hammering a locked account never extends its lock-out;
  * per client: after ``CLIENT_FREE_FAILURES`` wrong passwords within ``CLIENT_WINDOW_S``,
    each further attempt from that client must wait a doubling delay (capped at
    ``CLIENT_MAX_DELAY_S``) after its last failure: 429 with ``Retry-After`` until then.
    It slows a password sprayer; it never locks another account.
- Every login, failed login, refusal and logout is written to the audit log.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gate.store import Store

Role = Literal["guard", "admin"]
COOKIE = "__Host-gate_session"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
MIN_PASSWORD = 10
ACCOUNT_FAILURES = 5  # wrong passwords on one account within the window lock that account
ACCOUNT_WINDOW_S = 15 * 60
LOCKOUT_S = 15 * 60
CLIENT_FREE_FAILURES = 10  # wrong passwords from one client before it is slowed down
CLIENT_WINDOW_S = 15 * 60
CLIENT_MAX_DELAY_S = 30.0

_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY = _hasher.hash("not a real password, only for timing")


class AuthError(Exception):
    """Refused; ``status`` is the HTTP status to answer with, ``headers`` extra ones."""

    def __init__(self, message: str, status: int = 401,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def lockout_until(failures: Sequence[float], threshold: int = ACCOUNT_FAILURES,
                  window_s: float = ACCOUNT_WINDOW_S, lockout_s: float = LOCKOUT_S
                  ) -> float | None:
    """When the account's latest lock-out ends (epoch seconds), or None if it never locked.

    ``failures`` are the account's wrong-password times since its last good login, oldest
    first. Failures that formed a lock-out do not count towards the next one, so after the
    lock-out ends the account gets a fresh set of attempts.
    """
    recent: deque[float] = deque()
    until: float | None = None
    for t in failures:
        if until is not None and t < until:
            continue  # not recorded today, but a refused attempt never extends the lock-out
        recent.append(t)
        while recent and recent[0] <= t - window_s:
            recent.popleft()
        if len(recent) >= threshold:
            until = t + lockout_s
            recent.clear()
    return until


def client_wait(failures: Sequence[float], now: float, free: int = CLIENT_FREE_FAILURES,
                max_delay_s: float = CLIENT_MAX_DELAY_S) -> float:
    """Seconds a client must still wait before its next login attempt (0: go ahead).

    ``failures`` are the client's wrong-password times within the client window, oldest
    first. The first ``free`` cost nothing; then the wait after the last failure doubles
    (1 s, 2 s, 4 s ...) up to ``max_delay_s``.
    """
    excess = len(failures) - free
    if excess < 0:
        return 0.0
    delay = min(max_delay_s, 2.0 ** excess)
    return max(0.0, failures[-1] + delay - now)


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


def set_password(store: Store, username: str, password: str) -> None:
    """A new password for an existing user (every session of theirs ends)."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    with store.transaction() as db:
        if not db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                          (_hasher.hash(password), username)).rowcount:
            raise ValueError(f"no user {username}")
        db.execute("DELETE FROM sessions WHERE username = ?", (username,))
    store.audit("cli", "password_set", username)


class Authenticator:
    def __init__(self, store: Store, idle_s: float, absolute_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self.clock = clock

    def _account_failures(self, username: str, now: float) -> list[float]:
        since = now - ACCOUNT_WINDOW_S - LOCKOUT_S
        last_ok = self.store.query("SELECT MAX(ts_epoch) FROM login_attempts WHERE username = ?"
                                   " AND success = 1", (username,))[0][0]
        return [r[0] for r in self.store.query(
            "SELECT ts_epoch FROM login_attempts WHERE username = ? AND success = 0 AND"
            " ts_epoch > ? ORDER BY ts_epoch", (username, max(since, last_ok or since)))]

    def _client_failures(self, client: str, now: float) -> list[float]:
        return [r[0] for r in self.store.query(
            "SELECT ts_epoch FROM login_attempts WHERE client = ? AND success = 0 AND"
            " ts_epoch > ? ORDER BY ts_epoch", (client, now - CLIENT_WINDOW_S))]

    def login(self, username: str, password: str, client: str) -> tuple[str, Session]:
        """Returns (cookie token, session); raises AuthError (429 while locked or slowed)."""
        now = self.clock()
        wait = client_wait(self._client_failures(client, now), now)
        if wait > 0:
            self.store.audit(username, "login_throttled", None,
                             {"client": client, "retry_after_s": math.ceil(wait)})
            raise AuthError("too many failed logins from this computer; wait a moment", 429,
                            {"Retry-After": str(math.ceil(wait))})
        until = lockout_until(self._account_failures(username, now))
        if until is not None and now < until:
            # audited, not recorded as a failure: it must not extend the lock-out
            self.store.audit(username, "locked_out", None, {"client": client})
            raise AuthError("too many failed logins; try again later", 429,
                            {"Retry-After": str(math.ceil(until - now))})
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
        now = self.clock()
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
