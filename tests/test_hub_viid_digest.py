"""Registration with HTTP Digest against the simulated upper platform, checked by two
independent client libraries (httpx's DigestAuth, requests' HTTPDigestAuth), and the
gateway's client through register, keepalive, time, a restart of the platform, unregister."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest
import requests
from requests.auth import HTTPDigestAuth

from gate.hub.viid import objects
from gate.hub.viid.client import NotRegistered, Refused, ViidClient
from gate.hub.viid.server import ThreadServer
from gate.hub.viid.simulator import SimState, create_app
from tests.conftest import AT

SERVER = "34010000005030000001"
LOWER = "34010000002000000001"
PASSWORD = "viid-secret"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def sim() -> Iterator[tuple[SimState, str, Clock]]:
    clock = Clock()
    state = SimState(SERVER, {LOWER: PASSWORD}, nonce_ttl_s=30, clock=clock,
                     wall=lambda: AT)  # the platform's clock: fixed, never the machine's
    server = ThreadServer(create_app(state), "127.0.0.1", 0).start()
    yield state, f"http://127.0.0.1:{server.port}", clock
    server.stop()


def register_body() -> bytes:
    return json.dumps(objects.register(LOWER)).encode()


def test_httpx_digest_registers_and_a_wrong_password_does_not(
        sim: tuple[SimState, str, Clock]) -> None:
    state, url, _ = sim
    bare = httpx.post(f"{url}/VIID/System/Register", content=register_body())
    assert bare.status_code == 401
    challenge = bare.headers["WWW-Authenticate"]
    assert challenge.startswith("Digest ") and 'qop="auth"' in challenge \
        and "algorithm=MD5" in challenge
    wrong = httpx.post(f"{url}/VIID/System/Register", content=register_body(),
                       auth=httpx.DigestAuth(LOWER, "nope"))
    assert wrong.status_code == 401 and not state.registered
    good = httpx.post(f"{url}/VIID/System/Register", content=register_body(),
                      auth=httpx.DigestAuth(LOWER, PASSWORD))
    assert good.status_code == 200
    assert good.json()["ResponseStatusObject"]["StatusCode"] == 0
    assert state.registered == {LOWER}


def test_requests_digest_registers_too(sim: tuple[SimState, str, Clock]) -> None:
    state, url, _ = sim
    resp = requests.post(f"{url}/VIID/System/Register", data=register_body(),
                         auth=HTTPDigestAuth(LOWER, PASSWORD), timeout=10)
    assert resp.status_code == 200 and state.registered == {LOWER}


def test_an_expired_nonce_is_answered_stale_and_httpx_retries_by_itself(
        sim: tuple[SimState, str, Clock]) -> None:
    state, url, clock = sim
    seen: list[int] = []
    with httpx.Client(base_url=url, auth=httpx.DigestAuth(LOWER, PASSWORD),
                      event_hooks={"response": [lambda r: seen.append(r.status_code)]}) as c:
        assert c.post("/VIID/System/Register", content=register_body()).status_code == 200
        assert seen == [401, 200]
        assert c.post("/VIID/System/Register", content=register_body()).status_code == 200
        assert seen == [401, 200, 200]          # the cached nonce, next nc: no new challenge
        clock.t += 31                           # the nonce expires
        stale: list[str] = []
        c.event_hooks["response"].append(
            lambda r: stale.append(r.headers.get("WWW-Authenticate", "")))
        assert c.post("/VIID/System/Register", content=register_body()).status_code == 200
        assert seen[3:] == [401, 200] and "stale=true" in stale[0]
    assert state.registrations == 3


def test_the_gateway_client_registers_keeps_alive_reads_time_and_unregisters(
        sim: tuple[SimState, str, Clock]) -> None:
    state, url, _ = sim
    client = ViidClient(url, LOWER, "", PASSWORD, timeout_s=10)
    try:
        with pytest.raises(NotRegistered):
            client.keepalive()                   # not registered yet
        client.register()
        client.keepalive()
        assert state.keepalives == 1
        state.skew_s = 7
        assert client.server_time("Asia/Shanghai") == AT + dt.timedelta(seconds=7)
        state.restart()                          # the platform forgets us
        with pytest.raises(NotRegistered):
            client.keepalive()
        client.register()                        # a new nonce secret: httpx re-authenticates
        client.keepalive()
        client.unregister()
        assert state.registered == set() and state.unregistrations == 1
        bad = ViidClient(url, LOWER, "", "wrong", timeout_s=10)
        with pytest.raises(NotRegistered):
            bad.register()
        bad.close()
    finally:
        client.close()


def test_a_platform_that_is_down_is_refused_not_unknown() -> None:
    client = ViidClient("http://127.0.0.1:9", LOWER, "", PASSWORD, timeout_s=2)
    with pytest.raises(Refused):
        client.register()
    client.close()
