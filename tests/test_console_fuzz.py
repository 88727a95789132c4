"""Property-based run of the console API against its own OpenAPI schema: no input gives a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from gate.bench.scenes import FACES
from gate.broker import free_port
from gate.console.auth import add_user
from tests.scenario import Gate, running_gate

pytestmark = pytest.mark.slow
SKIP = {"/api/login", "/api/logout"}  # fuzzing these would lock the account or end the session


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gate, str]]:
    port = free_port()
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with running_gate(tmp, FACES, console={"enabled": True, "bind": f"127.0.0.1:{port}"}) as g:
        add_user(g.service.store, "admin", "admin-password-1", "admin")
        yield g, f"http://localhost:{port}"


@pytest.fixture(scope="module")
def session(console: tuple[Gate, str]) -> dict[str, Any]:
    _gate, base = console
    r = httpx.post(base + "/api/login", json={"username": "admin",
                                              "password": "admin-password-1"})
    r.raise_for_status()
    token = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    return {"cookies": {"__Host-gate_session": token},
            "headers": {"X-CSRF-Token": r.json()["csrf"]}}


def test_no_input_gives_a_server_error(console: tuple[Gate, str],
                                      session: dict[str, Any]) -> None:
    """Every operation, with schemathesis-generated requests (valid and edge-case values)."""
    base = console[1]
    cookie = "; ".join(f"{k}={v}" for k, v in session["cookies"].items())
    spec = httpx.get(base + "/openapi.json", headers={"Cookie": cookie})  # behind a session
    spec.raise_for_status()
    schema = schemathesis.openapi.from_dict(spec.json())
    operations = [r.ok() for r in schema.get_all_operations()]
    tried: dict[str, int] = {}
    statuses: set[int] = set()
    for operation in operations:
        if operation.path in SKIP:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(base_url=base, cookies=session["cookies"],
                                 headers={**(case.headers or {}), **session["headers"]})
            tried[case.operation.label] = tried.get(case.operation.label, 0) + 1
            statuses.add(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                response.text[:300])

        check()
    assert len(tried) >= 15, tried
    assert 200 in statuses and 401 not in statuses, statuses  # the session held throughout
