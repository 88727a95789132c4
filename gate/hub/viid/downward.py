"""The lower platform's endpoints the upper platform calls: ``/VIID/Dispositions`` (controls,
布控 and 撤控) and ``/VIID/Subscribes``, behind the same HTTP Digest the upper platform uses
towards us (user: the upper platform's id, password: ``[viid] password_file``).

A disposition is kept in ``viid_dispositions`` and the district's watch list made of every
active one is published to every school through the hub's watch-list path (kept in
``watchlists``, sent to each school's topic, sent again when a gate comes online).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from psycopg.types.json import Jsonb

from gate.hub import watchlists
from gate.hub.config import HubConfig
from gate.hub.viid import dispositions, ids, objects, schemas
from gate.hub.viid.digest import DigestVerifier

log = logging.getLogger("gate.hub.viid")


class Controls:
    """Applies dispositions and republishes the list; one at a time (a lock), since each
    republication is the whole list."""

    def __init__(self, config: HubConfig, connect: Callable[[], psycopg.Connection[Any]],
                 now: Callable[[], dt.datetime]) -> None:
        self.config = config
        self.connect = connect
        self.now = now
        self._lock = threading.Lock()
        self._version = 0

    def apply(self, items: list[tuple[dict[str, Any], bool]]) -> int:
        """(disposition, active) pairs; returns the schools the new list went to."""
        with self._lock, self.connect() as conn:
            with conn.transaction():
                for obj, active in items:
                    dispositions.save(conn, obj, active)
            self._version += 1
            payload = dispositions.watchlist_payload(
                self.config.viid.watchlist,
                f"{ids.viid_time(self.now(), self.config.timezone)}.{self._version}",
                dispositions.active_targets(conn))
            return watchlists.publish(self.config, conn, payload)

    def subscribe(self, obj: dict[str, Any], active: bool) -> None:
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO viid_subscribes (subscribe_id, active, body) VALUES (%s, %s, %s)"
                " ON CONFLICT (subscribe_id) DO UPDATE SET active = excluded.active,"
                " body = excluded.body, updated_at = clock_timestamp()",
                (str(obj["SubscribeID"]), active, Jsonb(obj)))


def create_app(config: HubConfig, controls: Controls, verifier: DigestVerifier) -> FastAPI:
    app = FastAPI(title="campus-gate GA/T 1400 lower platform")
    tz = config.timezone

    def local() -> str:
        return ids.viid_time(controls.now(), tz)

    def denied(request: Request) -> Response | None:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        uri = raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        user, stale = verifier.check(request.method, uri, request.headers.get("Authorization"))
        if user is None:
            return Response(status_code=401,
                            headers={"WWW-Authenticate": verifier.challenge(stale=stale)})
        return None

    async def items_of(request: Request, outer: str, inner: str) -> list[Any] | None:
        try:
            body = json.loads(await request.body())
            items = body[outer][inner]
        except (ValueError, KeyError, TypeError):
            return None
        return items if isinstance(items, list) else None

    def answer(path: str, results: list[tuple[str, int, str]]) -> JSONResponse:
        return JSONResponse(objects.response_status_list(
            [objects.response_status(path, code, i[:48], local(), text)
             for i, code, text in results]), media_type="application/VIID+JSON")

    @app.post("/VIID/Dispositions")
    async def post_dispositions(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        items = await items_of(request, "DispositionListObject", "DispositionObject")
        if items is None:
            return answer(request.url.path, [("", 7, "not a DispositionListObject")])
        results: list[tuple[str, int, str]] = []
        good: list[tuple[dict[str, Any], bool]] = []
        for obj in items:
            obj_id = str(obj.get("DispositionID", "")) if isinstance(obj, dict) else ""
            problems = schemas.errors("Disposition", obj)
            if not problems and obj.get("OperateType") == 0:
                try:
                    dispositions.target(obj)
                except dispositions.DispositionError as exc:
                    problems = [str(exc)]
            if problems:
                results.append((obj_id, 8, problems[0][:256]))
                continue
            good.append((obj, obj["OperateType"] == 0))
            results.append((obj_id, 0, "OK"))
        if good:
            schools = controls.apply(good)
            log.info("viid: %d disposition(s) applied, list sent to %d school(s)",
                     len(good), schools)
        return answer(request.url.path, results)

    @app.delete("/VIID/Dispositions")
    async def delete_dispositions(request: Request, IDList: str = "") -> Response:
        if (refused := denied(request)) is not None:
            return refused
        wanted = [i for i in IDList.split(",") if i]
        if wanted:
            controls.apply([({"DispositionID": i}, False) for i in wanted])
        return answer(request.url.path, [(i, 0, "OK") for i in wanted])

    @app.post("/VIID/Subscribes")
    async def post_subscribes(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        items = await items_of(request, "SubscribeListObject", "SubscribeObject")
        if items is None:
            return answer(request.url.path, [("", 7, "not a SubscribeListObject")])
        results = []
        for obj in items:
            obj_id = str(obj.get("SubscribeID", "")) if isinstance(obj, dict) else ""
            problems = schemas.errors("Subscribe", obj)
            if problems:
                results.append((obj_id, 8, problems[0][:256]))
                continue
            controls.subscribe(obj, obj.get("OperateType", 0) == 0)
            results.append((obj_id, 0, "OK"))
        return answer(request.url.path, results)

    @app.get("/VIID/System/Time")
    def system_time() -> Response:
        return JSONResponse(objects.system_time(config.viid.platform_id, local(), tz),
                            media_type="application/VIID+JSON")

    return app
