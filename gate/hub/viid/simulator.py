"""``gate hub viid-sim``: the upper platform's side (a police station's 视图库), for tests and
demonstrations.

It challenges ``Register`` with HTTP Digest (MD5, qop=auth; nonces expire after ``nonce_ttl_s``
and are answered with ``stale=true``), keeps the registered lower platforms, answers
``Keepalive``, ``UnRegister`` and ``Time``, validates every object it receives against the
schema and records it (counting copies per id, so a duplicate shows), and answers queries by id.
It can fail on purpose (``503``, ``slow``), forget everything as a restarted platform would
(every lower platform then gets 401 and must register again), report a skewed clock, and issue
dispositions to the lower platform with Digest, as a station's operator would.

Operator endpoints (``/sim/...``) have no authentication: bind the simulator to loopback.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gate.hub.viid import ids, objects, schemas
from gate.hub.viid.digest import DigestVerifier

LISTS = {"/VIID/Faces": ("face", "FaceList"),
         "/VIID/MotorVehicles": ("vehicle", "MotorVehicleList"),
         "/VIID/DispositionNotifications": ("notification", "DispositionNotificationList")}


@dataclass
class SimState:
    """Everything the simulated platform knows; tests read and steer it directly."""

    server_id: str
    users: dict[str, str]
    tz: str = "Asia/Shanghai"
    nonce_ttl_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    skew_s: float = 0.0
    mode: str = "ok"                 # ok | 503 | slow
    slow_s: float = 0.0
    registered: set[str] = field(default_factory=set)
    registrations: int = 0
    keepalives: int = 0
    unregistrations: int = 0
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"face": {}, "vehicle": {}, "notification": {}})
    copies: collections.Counter[str] = field(default_factory=collections.Counter)
    invalid: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    verifier: DigestVerifier = field(init=False)

    def __post_init__(self) -> None:
        self.verifier = DigestVerifier("VIID", self.users, self.clock, self.nonce_ttl_s)

    def restart(self) -> None:
        """As a restarted platform: new nonce secret, no registrations (data is kept)."""
        with self.lock:
            self.verifier = DigestVerifier("VIID", self.users, self.clock, self.nonce_ttl_s)
            self.registered.clear()

    def local_time(self) -> str:
        return ids.viid_time(self.wall() + dt.timedelta(seconds=self.skew_s), self.tz)

    def duplicates(self) -> dict[str, int]:
        with self.lock:
            return {k: n for k, n in self.copies.items() if n > 1}


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type="application/VIID+JSON")


def create_app(state: SimState, lower_url: str = "", lower_password: str = "") -> FastAPI:
    app = FastAPI(title="GA/T 1400 upper platform simulator")

    def ok(request: Request, obj_id: str = "") -> JSONResponse:
        return _json(objects.response_status_object(request.url.path, 0, obj_id,
                                                    state.local_time()))

    def registered(request: Request) -> bool:
        return request.headers.get("User-Identify", "") in state.registered

    async def body_of(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError:
            return None

    @app.post("/VIID/System/Register")
    async def register(request: Request) -> Response:
        user, stale = state.verifier.check("POST", request.url.path,
                                           request.headers.get("Authorization"))
        if user is None:
            return Response(status_code=401, headers={
                "WWW-Authenticate": state.verifier.challenge(stale=stale)})
        body = await body_of(request)
        if schemas.errors("Register", body):
            return _json(objects.response_status_object(request.url.path, 8, "",
                                                        state.local_time()))
        device = body["RegisterObject"]["DeviceID"]
        with state.lock:
            state.registered.add(device)
            state.registrations += 1
        return ok(request, device)

    @app.post("/VIID/System/Keepalive")
    async def keepalive(request: Request) -> Response:
        if not registered(request):
            return Response(status_code=401)
        with state.lock:
            state.keepalives += 1
        return ok(request, request.headers["User-Identify"])

    @app.post("/VIID/System/UnRegister")
    async def unregister(request: Request) -> Response:
        if not registered(request):
            return Response(status_code=401)
        with state.lock:
            state.registered.discard(request.headers["User-Identify"])
            state.unregistrations += 1
        return ok(request, request.headers["User-Identify"])

    @app.get("/VIID/System/Time")
    def system_time() -> Response:
        return _json(objects.system_time(state.server_id, state.local_time(), state.tz))

    def receive(path: str, body: Any, request: Request) -> Response:
        kind, list_type = LISTS[path]
        outer, inner, _ = objects.LIST_KEYS[kind]
        key = objects.ID_KEYS[kind]
        items = ((body or {}).get(outer) or {}).get(inner) if isinstance(body, dict) else None
        if not isinstance(items, list):
            return _json(objects.response_status_object(path, 7, "", state.local_time()))
        item_type = list_type.removesuffix("List")
        statuses = []
        with state.lock:
            for item in items:
                obj_id = str(item.get(key, "")) if isinstance(item, dict) else ""
                problems = schemas.errors(item_type, item)
                if problems:
                    state.invalid.append(f"{obj_id}: {problems[0]}")
                    statuses.append(objects.response_status(path, 8, obj_id[:48],
                                                             state.local_time(), problems[0][:256]))
                    continue
                state.objects[kind][obj_id] = item
                state.copies[obj_id] += 1
                statuses.append(objects.response_status(path, 0, obj_id, state.local_time()))
        return _json(objects.response_status_list(statuses))

    async def gate_of_failures() -> Response | None:
        if state.mode == "503":
            return Response(status_code=503)
        if state.mode == "slow":
            await asyncio.sleep(state.slow_s)
        return None

    for path in LISTS:
        async def handler(request: Request, path: str = path) -> Response:
            if not registered(request):
                return Response(status_code=401)
            if state.mode == "503":
                return Response(status_code=503)
            # slow: the objects are taken at once and the answer comes late (or never, if
            # the client gives up first): the case where only a lookup can tell
            answer = receive(path, await body_of(request), request)
            if state.mode == "slow":
                await asyncio.sleep(state.slow_s)
            return answer

        async def query(request: Request, path: str = path) -> Response:
            if not registered(request):
                return Response(status_code=401)
            failed = await gate_of_failures()
            if failed is not None:
                return failed
            kind, _ = LISTS[path]
            outer, inner, _p = objects.LIST_KEYS[kind]
            key = objects.ID_KEYS[kind]
            wanted = request.query_params.get(f"{inner.removesuffix('Object')}.{key}")
            with state.lock:
                found = [o for i, o in state.objects[kind].items() if wanted in (None, i)]
            return _json({outer: {inner: found}})

        app.add_api_route(path, handler, methods=["POST"])
        app.add_api_route(path, query, methods=["GET"])

    # operator side ------------------------------------------------------------------------

    @app.post("/sim/fail")
    def fail(mode: str = "503", seconds: float = 0.0) -> dict[str, Any]:
        """``mode``: ok | 503 | slow (objects are taken at once, every answer comes
        ``seconds`` late)."""
        state.mode, state.slow_s = mode, seconds
        return {"mode": mode}

    @app.post("/sim/restart")
    def restart() -> dict[str, Any]:
        state.restart()
        return {"restarted": True}

    @app.post("/sim/skew")
    def skew(seconds: float) -> dict[str, Any]:
        state.skew_s = seconds
        return {"skew_s": seconds}

    @app.get("/sim/summary")
    def summary() -> dict[str, Any]:
        with state.lock:
            return {"registered": sorted(state.registered),
                    "registrations": state.registrations, "keepalives": state.keepalives,
                    **{kind: len(objs) for kind, objs in state.objects.items()},
                    "duplicates": sum(1 for n in state.copies.values() if n > 1),
                    "invalid": len(state.invalid)}

    @app.post("/sim/dispositions")
    def dispose(plate: str = "", id_number: str = "", photo_b64: str = "", title: str = "",
                revoke: str = "") -> dict[str, Any]:
        """Issues (or with ``revoke=<DispositionID>`` revokes) a control on the lower
        platform, as the station's operator would."""
        obj = revoke_object(revoke, state) if revoke else disposition_object(
            state, plate=plate or None, id_number=id_number or None,
            photo_b64=photo_b64 or None, title=title)
        code = send_dispositions(lower_url, state.server_id, lower_password, [obj])
        return {"DispositionID": obj["DispositionID"], "status": code}

    return app


_seq = iter(range(1, 10**9))


def disposition_object(state: SimState, *, plate: str | None = None,
                       id_number: str | None = None, photo_b64: str | None = None,
                       title: str = "", days: int = 30) -> dict[str, Any]:
    """A control as a station's platform issues it (OperateType 0)."""
    now = state.wall()
    start = ids.viid_time(now, state.tz)
    terms = ([f"(1={plate})"] if plate else []) + ([f"(IDNumber={id_number})"]
                                                   if id_number else [])
    obj: dict[str, Any] = {
        "DispositionID": ids.business_id(state.server_id[:12], "01", start, next(_seq)),
        "Title": title or ("车辆布控 " + plate if plate else "人员布控"),
        "DispositionCategory": "2" if plate else "1", "TargetFeature": " and ".join(terms),
        "PriorityLevel": 1, "ApplicantName": "sim", "ApplicantOrg": "simulated station",
        "BeginTime": start, "EndTime": ids.viid_time(now + dt.timedelta(days=days), state.tz),
        "CreatTime": start, "OperateType": 0, "DispositionStatus": 0,
        "Reason": "simulated control " + secrets.token_hex(3)}
    if photo_b64:
        obj["SubImageList"] = {"SubImageInfoObject": [{
            "ImageID": ids.image_id(state.server_id, start, next(_seq)), "EventSort": 2,
            "DeviceID": state.server_id, "Type": objects.IMAGE_FACE, "FileFormat": "Jpeg",
            "ShotTime": start, "Width": 0, "Height": 0, "Data": photo_b64}]}
    return obj


def revoke_object(disposition_id: str, state: SimState) -> dict[str, Any]:
    now = ids.viid_time(state.wall(), state.tz)
    return {"DispositionID": disposition_id, "Title": "撤控", "DispositionCategory": "2",
            "PriorityLevel": 1, "ApplicantName": "sim", "ApplicantOrg": "simulated station",
            "BeginTime": now, "EndTime": now, "OperateType": 1, "DispositionStatus": 1,
            "Reason": "revoked", "DispositionRemoveTime": now}


def send_dispositions(lower_url: str, server_id: str, password: str,
                      items: list[dict[str, Any]], timeout_s: float = 10.0) -> dict[str, int]:
    """POST /VIID/Dispositions on the lower platform with Digest; id -> StatusCode."""
    with httpx.Client(base_url=lower_url.rstrip("/"), timeout=timeout_s,
                      auth=httpx.DigestAuth(server_id, password),
                      headers={"User-Identify": server_id,
                               "Content-Type": objects.CONTENT_TYPE}) as http:
        resp = http.post("/VIID/Dispositions", content=json.dumps(
            {"DispositionListObject": {"DispositionObject": items}},
            ensure_ascii=False).encode())
    if resp.status_code != 200:
        return {str(i.get("DispositionID")): -resp.status_code for i in items}
    return objects.statuses_of(resp.json())
