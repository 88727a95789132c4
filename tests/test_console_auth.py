"""Login throttling: one keyboard cannot lock every guard out (issue 13).

The rules are plain functions, tested with times as numbers; the Authenticator runs on a
real SQLite store with an injected clock, so the 15-minute windows pass without sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.console.auth import (
    ACCOUNT_FAILURES,
    ACCOUNT_WINDOW_S,
    CLIENT_FREE_FAILURES,
    CLIENT_MAX_DELAY_S,
    LOCKOUT_S,
    Authenticator,
    AuthError,
    add_user,
    client_wait,
    lockout_until,
)
from gate.store import Store
from tests.argon2_cheap import cheap_argon2
from tests.conftest import TZ

PASSWORDS = {"guard": "guard-password-1", "guard2": "guard-password-2",
             "admin": "admin-password-1"}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[Authenticator, Clock, Store]]:
    cheap_argon2(monkeypatch)
    store = Store(tmp_path / "data", TZ)
    for user, password in PASSWORDS.items():
        add_user(store, user, password, "admin" if user == "admin" else "guard")
    clock = Clock()
    yield Authenticator(store, 3600, 12 * 3600, clock=clock), clock, store
    store.close()


def _status(a: Authenticator, user: str, password: str, client: str = "127.0.0.1") -> int:
    try:
        a.login(user, password, client)
    except AuthError as exc:
        return exc.status
    return 200


def _audited(store: Store, action: str, actor: str) -> int:
    return int(store.query("SELECT COUNT(*) FROM audit_log WHERE action = ? AND actor = ?",
                           (action, actor))[0][0])


# The rules as functions -----------------------------------------------------------------------

def test_lockout_until() -> None:
    assert lockout_until([]) is None
    assert lockout_until([0, 1, 2, 3]) is None
    assert lockout_until([0, 1, 2, 3, 4]) == 4 + LOCKOUT_S
    # failures spread wider than the window never lock
    spread = [i * (ACCOUNT_WINDOW_S / 4 + 1) for i in range(20)]
    assert lockout_until(spread) is None
    # the failures that formed a lock-out do not count towards the next one
    after = 4 + LOCKOUT_S
    assert lockout_until([0, 1, 2, 3, 4, after, after + 1]) == 4 + LOCKOUT_S


@given(st.lists(st.floats(0, 10 * ACCOUNT_WINDOW_S), max_size=40))
def test_lockout_needs_threshold_failures_in_one_window(times: list[float]) -> None:
    times.sort()
    until = lockout_until(times)
    dense = any(times[i + ACCOUNT_FAILURES - 1] - times[i] < ACCOUNT_WINDOW_S
                for i in range(len(times) - ACCOUNT_FAILURES + 1))
    assert (until is not None) == dense
    if until is not None:
        # it starts at a failure and lasts LOCKOUT_S
        assert any(abs(until - LOCKOUT_S - t) < 1e-6 for t in times)


def test_client_wait_doubles_and_is_capped() -> None:
    free = [float(i) for i in range(CLIENT_FREE_FAILURES - 1)]
    assert client_wait(free, now=free[-1]) == 0
    ten = [float(i) for i in range(CLIENT_FREE_FAILURES)]
    assert client_wait(ten, now=ten[-1]) == 1.0
    assert client_wait(ten, now=ten[-1] + 1.0) == 0
    many = [float(i) for i in range(CLIENT_FREE_FAILURES + 30)]
    assert client_wait(many, now=many[-1]) == CLIENT_MAX_DELAY_S
    assert client_wait(many, now=many[-1] + CLIENT_MAX_DELAY_S) == 0


# On a real store ----------------------------------------------------------------------------

def test_twenty_wrong_passwords_do_not_lock_another_guard_out(
        auth: tuple[Authenticator, Clock, Store]) -> None:
    a, clock, store = auth
    start = clock.now
    statuses = []
    for _ in range(20):
        statuses.append(_status(a, "guard", "wrong-password"))
        clock.now += 1
    assert statuses == [401] * ACCOUNT_FAILURES + [429] * (20 - ACCOUNT_FAILURES)
    # another guard at the same desk (same client address) logs in at once
    assert _status(a, "guard2", PASSWORDS["guard2"]) == 200
    assert _status(a, "admin", PASSWORDS["admin"]) == 200
    # the locked account stays locked even with its right password ...
    assert _status(a, "guard", PASSWORDS["guard"]) == 429
    # ... refused attempts were audited but did not count as failures
    assert _audited(store, "login_failed", "guard") == ACCOUNT_FAILURES
    assert _audited(store, "locked_out", "guard") == 20 - ACCOUNT_FAILURES + 1
    # so the lock-out ends LOCKOUT_S after the 5th failure, however hard it was hammered
    fifth = start + ACCOUNT_FAILURES - 1
    clock.now = fifth + LOCKOUT_S - 1
    assert _status(a, "guard", PASSWORDS["guard"]) == 429
    clock.now = fifth + LOCKOUT_S + 0.5
    assert _status(a, "guard", PASSWORDS["guard"]) == 200


def test_retry_after_is_the_time_left(auth: tuple[Authenticator, Clock, Store]) -> None:
    a, clock, _store = auth
    for _ in range(ACCOUNT_FAILURES):
        _status(a, "guard", "wrong-password")
    clock.now += 60
    with pytest.raises(AuthError) as refused:
        a.login("guard", PASSWORDS["guard"], "127.0.0.1")
    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": str(LOCKOUT_S - 60)}


def test_a_password_sprayer_is_slowed_not_the_guards_blocked(
        auth: tuple[Authenticator, Clock, Store]) -> None:
    a, clock, store = auth
    # one wrong password on each of many names from one client: no account locks
    for i in range(CLIENT_FREE_FAILURES):
        assert _status(a, f"name{i}", "wrong-password", "10.0.0.9") == 401
    # the client must now wait a moment: 429 with Retry-After, for every account ...
    with pytest.raises(AuthError) as slowed:
        a.login("guard2", PASSWORDS["guard2"], "10.0.0.9")
    assert slowed.value.status == 429 and slowed.value.headers == {"Retry-After": "1"}
    # ... but not for other clients, and not for long: after the wait the guard logs in
    assert _status(a, "guard", PASSWORDS["guard"], "10.0.0.10") == 200
    clock.now += 1
    assert _status(a, "guard2", PASSWORDS["guard2"], "10.0.0.9") == 200
    # a throttled attempt is audited, not counted: the wait does not grow from it
    assert _audited(store, "login_throttled", "guard2") == 1
    clock.now += 1
    assert _status(a, "name-x", "wrong-password", "10.0.0.9") == 401  # 11th failure
    with pytest.raises(AuthError) as slower:
        a.login("guard2", PASSWORDS["guard2"], "10.0.0.9")
    assert slower.value.headers == {"Retry-After": "2"}


def test_sessions_expire_on_the_injected_clock(auth: tuple[Authenticator, Clock, Store]
                                               ) -> None:
    a, clock, _store = auth
    token, session = a.login("guard", PASSWORDS["guard"], "127.0.0.1")
    assert a.session(token) == session
    clock.now += 3600 + 1  # idle time-out
    with pytest.raises(AuthError):
        a.session(token)
