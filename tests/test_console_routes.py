"""Every route of the console app, walked from ``app.routes``: sessions, CSRF, admin role.

A real Service (real SQLite, dry-run relay, no readers or cameras) behind the real app, in
process through Starlette's TestClient; nothing of the console is replaced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from gate.config import parse_config
from gate.console.app import create_app
from gate.console.auth import COOKIE, add_user
from gate.console.deps import admin
from gate.records import Person
from gate.service import Service
from gate.vocab import AlertType, Severity
from tests.argon2_cheap import cheap_argon2

PUBLIC = {"/", "/favicon.ico", "/healthz", "/api/login", "/static", "/api/alarm",
          "/metrics",  # /metrics has its own bearer token (tests/test_metrics*.py)
          "/manifest.webmanifest", "/sw.js"}  # the installable host page: static, no data
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
PASSWORDS = {"admin": "admin-password-1", "guard": "guard-password-1",
             "guard2": "guard-password-2"}


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    cheap_argon2(monkeypatch)
    config = parse_config({"site": "test", "gate": "main", "data_dir": str(tmp_path / "data"),
                           "lanes": [{"id": "L1"}], "visitors": {"default_minutes": 45},
                           "console": {"enabled": False}})
    svc = Service(config, tmp_path / "data")
    for user, password in PASSWORDS.items():
        add_user(svc.store, user, password, "admin" if user == "admin" else "guard")
    svc.store.upsert_person(Person("staff", "Teacher Wang", role="staff"))
    yield svc
    svc.store.close()


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service), base_url="https://testserver") as c:
        yield c


def log_in(client: TestClient, user: str) -> dict[str, str]:
    """Logs the client in (its cookie jar keeps the session); returns the CSRF header."""
    r = client.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf"]}


def _url(path: str) -> str:
    return path.replace("{", "").replace("}", "")  # /api/visitors/{visitor_id} -> .../visitor_id


def _flat(app: Any) -> list[tuple[str | None, Any]]:
    """(path, route) for every route, through included routers: FastAPI >= 0.13x keeps an
    included router as one entry and resolves it through ``iter_route_contexts``."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        return [(getattr(r, "path", None), r) for r in app.routes]
    return [(c.path, c.original_route) for c in iterate(app.routes)]


def _routes(client: TestClient) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    for path, route in _flat(client.app):
        assert path is not None, route
        if isinstance(route, APIRoute):
            out += [(m, path, route) for m in sorted(route.methods or ())]
        elif isinstance(route, APIWebSocketRoute):
            out.append(("WS", path, route))
        elif isinstance(route, Mount):
            out.append(("MOUNT", path, route))
        else:
            raise AssertionError(f"unexpected kind of route {route!r}")
    return out


def _needs_admin(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is admin:
            return True
        stack += dep.dependencies
    return False


def test_every_route_needs_a_session_and_csrf(client: TestClient) -> None:
    routes = _routes(client)
    assert len(routes) >= 30
    public = {path for _m, path, _r in routes if path in PUBLIC}
    assert public == PUBLIC  # the public set is exactly this: a new route must need a session
    for method, path, _route in routes:
        if path in PUBLIC:
            continue
        if method == "WS":
            with pytest.raises(WebSocketDisconnect) as closed, \
                    client.websocket_connect(_url(path)) as ws:
                ws.receive_text()
            assert closed.value.code == 4401, path
            continue
        r = client.request(method, _url(path), json={})
        assert r.status_code == 401, (method, path, r.status_code)
    # with an admin's session, a state-changing request without (or with a wrong) CSRF token
    # is refused before anything else runs
    csrf = log_in(client, "admin")
    changing = [(m, p) for m, p, _r in routes if m in STATE_CHANGING and p not in PUBLIC]
    assert len(changing) >= 12
    for method, path in changing:
        for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
            r = client.request(method, _url(path), json={}, headers=headers)
            assert r.status_code == 403, (method, path, r.status_code)
            assert "CSRF" in r.json()["detail"]
    # with the token the same request reaches validation (an empty body is refused as 422)
    r = client.post("/api/lanes/L1/open", json={}, headers=csrf)
    assert r.status_code == 422


def test_admin_routes_refuse_a_guard(client: TestClient) -> None:
    admin_routes = [(m, p) for m, p, r in _routes(client)
                    if isinstance(r, APIRoute) and _needs_admin(r)]
    assert {p for _m, p in admin_routes} >= {"/api/users", "/api/audit", "/api/vehicles"}
    csrf = log_in(client, "guard")
    for method, path in admin_routes:
        r = client.request(method, _url(path), json={}, headers=csrf)
        assert r.status_code == 403, (method, path, r.status_code)


def test_the_schema_needs_a_session(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 401
    for path in ("/docs", "/redoc"):
        assert client.get(path).status_code == 404
    log_in(client, "guard")
    spec = client.get("/openapi.json").json()
    assert "/api/fire/reset" in spec["paths"] and "/api/health" in spec["paths"]
    assert "/openapi.json" not in spec["paths"]


def test_errors_come_from_types(client: TestClient, service: Service) -> None:
    csrf = log_in(client, "guard")
    missing = client.get("/api/visitors/nobody")
    assert missing.status_code == 404 and "no visitor" in missing.json()["detail"]
    r = client.post("/api/visitors", headers=csrf, json={
        "name": "王芳", "id_type": "resident-id", "id_number": "330702199001011237",
        "purpose": "家长会", "host_id": "staff"})
    assert r.status_code == 200, r.text
    visitor = r.json()
    # no length given: the configured visitors.default_minutes (45), not a hard-coded 120
    from datetime import datetime
    length = (datetime.fromisoformat(visitor["valid_until"])
              - datetime.fromisoformat(visitor["valid_from"]))
    assert length.total_seconds() == 45 * 60
    assert client.get("/api/me").json()["visit_minutes"] == 45
    wrong_state = client.post(f"/api/visitors/{visitor['id']}/guard", headers=csrf,
                              json={"admit": True, "note": "not flagged"})
    assert wrong_state.status_code == 422  # a VisitorError that is not "not found"
    assert client.get(f"/api/visitors/{visitor['id']}/pass.svg").status_code == 409
    bad_card = client.post(f"/api/visitors/{visitor['id']}/card", headers=csrf,
                           json={"card": "not a card"})
    assert bad_card.status_code == 422
    assert client.post("/api/lanes/L9/open", headers=csrf,
                       json={"reason": "no such lane"}).status_code == 404
    assert client.post("/api/alerts/none/ack", headers=csrf,
                       json={"note": "x"}).status_code == 404
    assert client.get("/api/attendance?date=2026-13-01").status_code == 422


def test_one_alert_acknowledged_once_with_its_note_and_audited(client: TestClient,
                                                               service: Service) -> None:
    csrf = log_in(client, "guard")
    alert = service.engine.raise_alert(AlertType.UNKNOWN_CARD, Severity.WARNING, "L1",
                                       {"card": "hex:01"}).alert
    assert alert is not None
    url = f"/api/alerts/{alert.id}/ack"
    assert client.post(url, headers=csrf, json={"note": "  "}).status_code == 422
    assert client.post(url, headers=csrf, json={"note": " card taken back "}).status_code == 200
    assert client.post(url, headers=csrf, json={"note": "again"}).status_code == 404
    [row] = service.store.query("SELECT acknowledged_by, ack_note FROM alerts WHERE id = ?",
                                (alert.id,))
    assert tuple(row) == ("guard", "card taken back")
    audits = service.store.query("SELECT actor, target FROM audit_log"
                                 " WHERE action = 'alert_acknowledged'")
    assert [tuple(a) for a in audits] == [("guard", alert.id)]


def test_health_and_fire_reset(client: TestClient, service: Service) -> None:
    csrf = log_in(client, "guard")
    health = client.get("/api/health").json()
    assert health["fire"]["released"] is False and "probe" in health
    assert client.post("/api/fire/reset", headers=csrf, json={}).status_code == 422  # no note
    note = {"note": "drill over, input clear"}
    assert client.post("/api/fire/reset", headers=csrf, json=note).status_code == 409  # no fire
    service.engine.set_fire_alarm(True)
    assert client.get("/api/health").json()["fire"]["released"] is True
    still = client.post("/api/fire/reset", headers=csrf, json=note)
    assert still.status_code == 409 and "still active" in still.json()["detail"]
    service.engine.set_fire_alarm(False)
    assert client.get("/api/health").json()["fire"]["released"] is True  # held until reset
    done = client.post("/api/fire/reset", headers=csrf, json=note)
    assert done.status_code == 200 and done.json()["event"]["type"] == "fire_reset"
    assert client.get("/api/health").json()["fire"]["released"] is False
    audit = service.store.query("SELECT actor, details FROM audit_log WHERE action ="
                                " 'fire_reset'")
    assert [a[0] for a in audit] == ["guard"] and "drill over" in audit[0][1]


def test_healthz_reports_a_store_that_does_not_answer(client: TestClient,
                                                      service: Service) -> None:
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert ok.json()["store_ms"] is not None
    release, held = threading.Event(), threading.Event()

    def hold_the_store() -> None:
        with service.store.transaction():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_store)
    holder.start()
    try:
        assert held.wait(5)
        # the store answers only once released (or after 10 s): a /healthz that waited for it
        # would say 200, so a 503 is an answer given within the probe's own timeout
        stuck = client.get("/healthz")
        assert stuck.status_code == 503, stuck.text
        assert stuck.json()["status"] == "unhealthy" and stuck.json()["problems"]
        assert client.get("/healthz").status_code == 503  # waits on the same stuck probe
    finally:
        release.set()
        holder.join(5)
    deadline = time.monotonic() + 5
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "healthz did not recover"
        time.sleep(0.05)


def test_security_headers_and_cookie(client: TestClient) -> None:
    r = client.post("/api/login", json={"username": "guard", "password": PASSWORDS["guard"]})
    cookie = r.headers["set-cookie"].lower()
    for part in (f"{COOKIE.lower()}=", "httponly", "secure", "samesite=strict", "path=/"):
        assert part in cookie
    page = client.get("/")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.get("/api/me").headers["cache-control"] == "no-store"
    client.cookies.clear()
    form = client.post("/api/login", content=b"username=guard&password=guard-password-1",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code in (415, 422) and "set-cookie" not in form.headers


def test_a_row_id_beyond_sqlites_integers_is_a_clear_error(client: TestClient) -> None:
    """2**63 does not fit SQLite's INTEGER: refused at the door (422), not a 500 from the query."""
    csrf = log_in(client, "admin")
    for method, path in (("GET", "/api/people/S001/faces/9223372036854775808/photo"),
                         ("DELETE", "/api/people/S001/faces/9223372036854775808"),
                         ("GET", "/api/people/S001/faces/0/photo")):
        r = client.request(method, path, headers=csrf)
        assert r.status_code == 422, (method, path, r.status_code, r.text)
    assert client.get("/api/people/S001/faces/9223372036854775807/photo").status_code == 404
