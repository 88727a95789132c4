"""The safety core outlives anything a photo does: enrolments at once, a photo worker killed
by SIGSEGV or SIGKILL in the middle, all while cards are tapped (issue: "Nothing the console,
a photo or a recognition model does can stop the cards, the relays or the fire release")."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.bench.scenes import FACES
from gate.broker import free_port
from gate.console.auth import add_user
from gate.records import Person
from gate.store import Store
from tests.conftest import GATE, TZ
from tests.ptys import wait_for
from tests.scenario import Gate, console_gate_config, running_gate

pytestmark = pytest.mark.slow

ADMIN = ("admin", "admin-password-1")
PUPILS = [f"P{i:02d}" for i in range(10)]
# Ten photos with ten different verdicts to expect: each answer must be the verdict on the
# photo its own request sent (dlib shared by threads once answered "153 faces found").
PHOTOS: list[tuple[str, str]] = [
    ("obama.jpg", "enrolled"), ("biden.jpg", "enrolled"),
    ("two_people.jpg", "2 faces found"), ("train/alex_lacamoire/img1.jpg", "enrolled"),
    ("train/kit_harington/john1.jpeg", "enrolled"), ("corrupt", "not a readable image"),
    ("train/rose_leslie/img1.jpg", "enrolled"), ("blank", "no face found"),
    ("obama2.jpg", "enrolled"), ("train/biden/biden.jpg", "enrolled")]


def _photo(name: str) -> bytes:
    if name == "corrupt":
        return (FACES / "obama.jpg").read_bytes()[:400]
    if name == "blank":
        import cv2
        import numpy as np

        ok, buf = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))
        assert ok
        return bytes(buf)
    return (FACES / name).read_bytes()


@contextlib.contextmanager
def _client(url: str) -> Iterator[httpx.Client]:
    """An admin's session (the cookie is ``__Host-`` and Secure: set by hand over http)."""
    with httpx.Client(base_url=url, timeout=180) as client:
        r = client.post("/api/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 200, r.text
        token = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        client.cookies.set("__Host-gate_session", token)
        client.headers["X-CSRF-Token"] = r.json()["csrf"]
        yield client


def _enrol(client: httpx.Client, person: str, photo: str) -> httpx.Response:
    """The photos are of the seeded people (obama, biden, kit_harington) under new ids, so the
    admin confirms each (a face that matches another enrolled person is otherwise refused)."""
    return client.post(f"/api/people/{person}/face", json={
        "photo": base64.b64encode(_photo(photo)).decode(), "consent": True, "replace": True,
        "confirm_reason": "the same test photos under a pupil's id"})


class Taps:
    """A card tapped every 60 ms on the lane while the enrolments run (six cards in turn, so
    each comes back after the reader's 200 ms hold-off); every tap must get its decision, and
    the decision times come from the engine's own log lines."""

    def __init__(self, gate: Gate, caplog: pytest.LogCaptureFixture) -> None:
        self.gate, self.caplog = gate, caplog
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from gate.demo import em4100_frame
        from tests.scenario import CARDS

        cards = [*CARDS.values(), "6299999999"]
        while not self._stop.wait(0.06):
            self.gate.ptys["L1-in"].write(em4100_frame(cards[self.sent % len(cards)]))
            self.sent += 1

    def __enter__(self) -> Taps:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def decision_ms(self) -> list[float]:
        return [float(r.gate_decision_ms) for r in self.caplog.records  # type: ignore[attr-defined]
                if r.name == "gate.engine" and hasattr(r, "gate_decision_ms")]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    port = free_port()
    with running_gate(tmp_path, FACES,
                      console={"enabled": True, "bind": f"127.0.0.1:{port}"}) as g:
        add_user(g.service.store, *ADMIN, "admin")
        for pid in PUPILS:
            g.service.store.upsert_person(Person(pid, f"Pupil {pid}", class_name="7-2"))
        yield g


def _burst(client: httpx.Client, during: Callable[[], None] | None = None
           ) -> list[tuple[int, dict[str, Any]]]:
    with ThreadPoolExecutor(len(PUPILS)) as pool:
        futures = [pool.submit(_enrol, client, pid, photo)
                   for pid, (photo, _) in zip(PUPILS, PHOTOS, strict=True)]
        if during is not None:
            during()
        return [(f.result().status_code, f.result().json()) for f in futures]


def test_ten_enrolments_at_once_and_a_segfaulting_worker_leave_the_gate_deciding(
        gate: Gate, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gate.engine")
    assert gate.service.console is not None
    url = f"http://localhost:{gate.service.console.port}"
    workers = gate.service.photo_workers
    with _client(url) as client, Taps(gate, caplog) as taps:
        # round 1: ten at once; each answer is its own photo's verdict
        for (status, body), (photo, expected) in zip(_burst(client), PHOTOS, strict=True):
            assert status == 200, (photo, body)
            if expected == "enrolled":
                assert body["outcome"] == "enrolled", (photo, body)
            else:
                assert body["outcome"] == "not-enrolled" and expected in body["reason"], \
                    (photo, body)

        # round 2: the same again, and the worker busy on one of them dies of SIGSEGV
        killed: list[int] = []

        def segfault() -> None:
            wait_for(lambda: workers.health.jobs >= 13 and bool(workers.busy_pids()),
                     timeout=120, what="the worker busy on round 2's fourth photo")
            pid = workers.busy_pids()[0]
            os.kill(pid, signal.SIGSEGV)
            killed.append(pid)

        answers = _burst(client, segfault)
        crashed = [body for status, body in answers if status == 503]
        assert len(crashed) == 1 and crashed[0]["code"] == "photo_worker", answers
        assert "SIGSEGV" in crashed[0]["detail"] and "restarted" in crashed[0]["detail"]
        for (status, body), (photo, expected) in zip(answers, PHOTOS, strict=True):
            if status == 503:
                continue
            assert status == 200, (photo, body)
            assert (body["outcome"] == "enrolled") == (expected == "enrolled"), (photo, body)
        assert killed[0] not in workers.pids()  # a new worker took its place
        assert workers.health.crashes == 1
        # the next enrolment after the crash works
        after = _enrol(client, PUPILS[0], "obama.jpg")
        assert after.status_code == 200 and after.json()["outcome"] == "enrolled"
        sent = taps.sent
    # every tap decided, fast, all along; the gate never stopped. A tap is a presentation the
    # reader accepted: under load a frame may come within the 200 ms hold-off of the same
    # card's last one and count as that card still held, by design.
    reader = gate.service.readers[0].health
    wait_for(lambda: len(taps.decision_ms()) >= reader.reads, timeout=10,
             what=f"every tap decided ({len(taps.decision_ms())} of {reader.reads})")
    times = taps.decision_ms()
    assert len(times) == reader.reads and reader.reads >= 0.9 * sent and sent > 100
    # A stall (a lock held across a photo, a worker's death reaching the gate) shows here;
    # that dlib stays out of this process is checked on its memory map (test below). The
    # latency on a quiet machine (a few ms) is `gate bench`'s figure: with the suite's other
    # processes on the same two cores this p99 was 57 and 226 ms, so the bound is 500 ms.
    assert _p99(times) < 500, f"p99 {_p99(times):.1f} ms over {len(times)} taps"
    assert gate.service.probe()["ok"]
    faults = gate.service.store.query(
        "SELECT details FROM alerts WHERE type = 'service_fault'")
    assert any("photo-worker" in r[0] and "SIGSEGV" in r[0] for r in faults)  # the guard knows


def test_a_killed_worker_during_a_visitor_registration_is_a_clear_error(gate: Gate) -> None:
    assert gate.service.console is not None
    url = f"http://localhost:{gate.service.console.port}"
    workers = gate.service.photo_workers
    visitor = {"name": "王芳", "id_type": "resident-id", "id_number": "330702199001011237",
               "purpose": "家长会", "host_id": "staff",
               "photo": base64.b64encode(_photo("obama-720p.jpg")).decode()}
    with _client(url) as client, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.post, "/api/visitors", json=visitor)
        wait_for(lambda: bool(workers.busy_pids()), timeout=120, what="the photo being encoded")
        os.kill(workers.busy_pids()[0], signal.SIGKILL)
        refused = pending.result()
        assert refused.status_code == 503 and refused.json()["code"] == "photo_worker"
        assert "SIGKILL" in refused.json()["detail"]
        assert gate.service.store.count("visitors") == 0  # nothing half-registered
        again = client.post("/api/visitors", json=visitor)
        assert again.status_code == 200, again.text
        assert again.json()["name"] == "王芳"
    assert gate.service.store.count("visitor_faces") == 1


def test_the_gate_process_never_loads_dlib_or_onnxruntime(tmp_path: Path) -> None:
    """``gate run`` as systemd runs it: after an enrolment through its console, its own
    address space holds no dlib and no onnxruntime; its photo worker's does."""
    data = tmp_path / "data"
    store = Store(data, TZ)
    try:
        add_user(store, *ADMIN, "admin")
        store.upsert_person(Person("P01", "Pupil", class_name="7-2"))
    finally:
        store.close()
    config, port = console_gate_config(tmp_path, data)
    with (tmp_path / "gate.log").open("ab") as log:
        proc = subprocess.Popen([*GATE, "--config", str(config), "run"],
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        url = f"http://localhost:{port}"

        def up() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=90, what="gate run's console")
        with _client(url) as client:
            r = _enrol(client, "P01", "obama.jpg")
            assert r.status_code == 200 and r.json()["outcome"] == "enrolled", r.text
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "dlib" not in maps and "onnxruntime" not in maps
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True, check=False).stdout.split()
        worker_maps = [Path(f"/proc/{c}/maps").read_text() for c in children
                       if Path(f"/proc/{c}/maps").exists()]
        assert any("dlib" in m for m in worker_maps)  # the check above can fail
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(20)
