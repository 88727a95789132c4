"""``gate bench --soak MINUTES``: the real service for a long while, watched from outside.

A leak shows only over hours: RSS that creeps, file descriptors or threads that are never
given back, data that grows past what retention allows. So the soak starts ``gate run`` as
systemd would (its own process, its own config), drives it the way a school does (a morning
rush of card taps on pseudo-terminals, then a quiet day; two lane cameras and one perimeter
camera (or more: ``--perimeter-cameras``) playing files in a loop; guards' consoles polling;
MQTT subscribers taking every message), and once a minute prints what each of its processes
holds: RSS, open file descriptors, threads, its share of one core over that minute, the
database and snapshot bytes, the p99 of the card decisions of that minute (from the service's
own log) and the rate each camera was analysed at (from the console's devices page). At the
end it fits a line through each series after warm-up and prints the slopes.

The CPU shares and analysed rates answer the installer's question of how many perimeter
cameras the gate computer carries next to its lanes: a camera analysed below its configured
rate is one too many (the worker drops frames rather than slow the lanes).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gate.broker import LocalBroker, find_mosquitto, free_port
from gate.demo import PtyPair, em4100_frame
from gate.mqtt import close_client

_DECISION = re.compile(r"decision_ms=([0-9.]+)")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
GUARD = ("soak-guard", "soak-guard-password")


@dataclass
class Sample:
    minute: int
    rss_mb: dict[str, float]
    fds: dict[str, int]
    threads: dict[str, int]
    db_bytes: int
    snapshot_bytes: int
    taps: int
    decision_p99_ms: float | None
    mqtt_messages: int
    cpu_pct: dict[str, float] = field(default_factory=dict)  # of one core, over the minute
    analysed_fps: dict[str, float] = field(default_factory=dict)  # per camera

    def line(self) -> str:
        procs = " ".join(f"{name}={rss:.0f}MB/{self.fds[name]}fd/{self.threads[name]}th"
                         f"/{self.cpu_pct.get(name, 0.0):.0f}%cpu"
                         for name, rss in sorted(self.rss_mb.items()))
        cams = " ".join(f"{cam}={fps:.1f}" for cam, fps in sorted(self.analysed_fps.items()))
        p99 = "-" if self.decision_p99_ms is None else f"{self.decision_p99_ms:.1f}"
        return (f"min {self.minute:4d}  taps {self.taps:4d}  p99 {p99:>6} ms  db "
                f"{self.db_bytes / 1e6:7.2f} MB  snapshots {self.snapshot_bytes / 1e6:7.2f} MB"
                f"  mqtt {self.mqtt_messages:6d}  {procs}  fps {cams or '-'}")


@dataclass
class SoakResult:
    samples: list[Sample] = field(default_factory=list)
    warmup_min: int = 0

    def slopes(self) -> dict[str, float]:
        """Per hour, after warm-up: the least-squares slope of each series."""
        after = [s for s in self.samples if s.minute > self.warmup_min]
        if len(after) < 3:
            return {}
        series: dict[str, list[tuple[float, float]]] = {}
        for s in after:
            series.setdefault("rss_total_mb", []).append((s.minute, sum(s.rss_mb.values())))
            series.setdefault("fds_total", []).append((s.minute, sum(s.fds.values())))
            series.setdefault("threads_total", []).append((s.minute, sum(s.threads.values())))
            series.setdefault("db_mb", []).append((s.minute, s.db_bytes / 1e6))
            series.setdefault("snapshots_mb", []).append((s.minute, s.snapshot_bytes / 1e6))
            for name, rss in s.rss_mb.items():
                series.setdefault(f"rss_{name}_mb", []).append((s.minute, rss))
        return {name: 60 * _slope(points) for name, points in series.items()}


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _proc_stats(pid: int) -> tuple[float, int, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss, fds, threads


def _cpu_seconds(pid: int) -> float | None:
    """User and system time the process has used so far (``/proc/PID/stat`` fields 14, 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_names(root: int) -> dict[str, int]:
    """The service and every process it started, by the names they give themselves
    (recognition/procname.py): a restarted worker keeps its series. The kernel keeps 15
    bytes of a name, so perimeter workers of "street1" and "street2" are both
    "gate-per-street": the second (by pid) is "gate-per-street#2"."""
    names = {"gate": root}
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            comm = Path(stat.parent, "comm").read_text().strip()
        except OSError:
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == root:  # field 4: the parent's pid
            children.append((int(stat.parent.name), comm))
    for pid, comm in sorted(children):
        name = key = comm if comm.startswith("gate-") else f"other-{pid}"
        n = 1
        while key in names:
            n += 1
            key = f"{name}#{n}"
        names[key] = pid
    return names


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _demo_video(path: Path) -> Path:
    """A looping clip of a pupil walking up to lane 1, composed from a shipped real photo
    (the soak loops its clips on purpose: hours of load, not a story)."""
    import cv2

    from gate.bench.scenes import cut_head, walking_frames
    from recognition.face_engine import DlibFaceEngine

    head = cut_head(DlibFaceEngine(), "test/obama1.jpg", "obama")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (1280, 720))
    for rgb in walking_frames([head], 75):
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _car_video(path: Path) -> Path:
    """A registered staff car stops at the barrier for 2 s, then the lane is empty for 4 s."""
    import random

    import cv2

    from gate.bench.plates_data import PlateSpec, car_scene, render_plate
    from gate.bench.scenes import background
    from gate.demo_script import STAFF

    rgb, _box = car_scene(render_plate(PlateSpec(STAFF[0].plate, "blue")), random.Random(22),
                          plate_width=210)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (1280, 720))
    for frame in [rgb] * 50 + [background()] * 100:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _clips(workdir: Path) -> tuple[Path, Path, Path | None]:
    perimeter = VTEST if VTEST.exists() else None
    return _demo_video(workdir / "gate-cam.avi"), _car_video(workdir / "car-cam.avi"), perimeter


def _config(workdir: Path, ptys: dict[str, PtyPair], broker_port: int, console_port: int,
            clips: tuple[Path, Path, Path | None], perimeter_cameras: int = 1) -> Path:
    gate_clip, car_clip, perimeter = clips
    data = workdir / "data"
    text = f'''site = "soak"
gate = "main"
data_dir = "{data}"
[mqtt]
port = {broker_port}
[console]
bind = "127.0.0.1:{console_port}"
[evidence]
enabled = true
[[cameras]]
id = "gate-cam"
source = "{gate_clip}"
role = "gate"
max_fps = 8
loop = true
[[cameras]]
id = "car-cam"
source = "{car_clip}"
role = "vehicle"
max_fps = 4
loop = true
'''
    for n in range(perimeter_cameras if perimeter is not None else 0):
        text += f'''[[cameras]]
id = "street{n + 1}"
source = "{perimeter}"
role = "perimeter"
loop = true
  [[cameras.zones]]
  id = "pavement"
  polygon = [[0, 0], [768, 0], [768, 576], [0, 576]]
'''
    text += f'''[[lanes]]
id = "L1"
camera = "gate-cam"
relay = {{ kind = "dry-run" }}
[[lanes.readers]]
id = "L1-in"
port = "{ptys['L1-in'].path}"
direction = "entry"
holdoff_ms = 300
[[lanes.readers]]
id = "L1-out"
port = "{ptys['L1-out'].path}"
direction = "exit"
holdoff_ms = 300
[[lanes]]
id = "V1"
vehicle_camera = "car-cam"
relay = {{ kind = "dry-run" }}
'''
    path = workdir / "gate.toml"
    path.write_text(text)
    return path


def _seed(data: Path, pupils: int) -> list[str]:
    """A roster of ``pupils`` card-only pupils (their cards are the taps) and a guard."""
    from gate.config import Config
    from gate.console.auth import add_user
    from gate.records import Person
    from gate.store import Store

    store = Store(data, Config().tz)
    cards = []
    try:
        for i in range(pupils):
            pid = f"S{i:04d}"
            store.upsert_person(Person(pid, f"Pupil {i}", class_name=f"{7 + i % 3}-{i % 4}"))
            card = f"62{i:08d}"
            store.assign_card(f"hex:{card}", pid)
            cards.append(card)
        add_user(store, *GUARD, "guard")
    finally:
        store.close()
    return cards


class _Taps:
    """A school day, compressed into the soak: a rush (one pupil every 1.5 s, entries) for
    the first fifth, then a quiet day (one tap every 20 s, entries and exits)."""

    def __init__(self, ptys: dict[str, PtyPair], cards: list[str], minutes: float) -> None:
        self.ptys, self.cards, self.minutes = ptys, cards, minutes
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-taps", daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set():
            rush = (time.monotonic() - start) < self.minutes * 60 / 5
            card = self.cards[self.sent % len(self.cards)]
            reader = "L1-in" if rush or self.sent % 2 == 0 else "L1-out"
            self.ptys[reader].write(em4100_frame(card))
            self.sent += 1
            self.stop.wait(1.5 if rush else 20.0)


class _Consoles:
    """Two guards' pages: the alarm poll every second, the live feed and devices every 5 s."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.errors = 0
        self.analysed_fps: dict[str, float] = {}  # per camera, from the newest devices page
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            r = client.post("/api/login", json={"username": GUARD[0], "password": GUARD[1]})
            token = r.headers.get("set-cookie", "").split(";")[0].split("=", 1)[-1]
            client.cookies.set("__Host-gate_session", token)
            n = 0
            while not self.stop.wait(1.0):
                n += 1
                paths = ["/api/alarm"] + (["/api/events", "/api/devices"] if n % 5 == 0 else [])
                for path in paths:
                    try:
                        r = client.get(path)
                    except httpx.HTTPError:
                        self.errors += 1
                        continue
                    if path == "/api/devices" and r.status_code == 200:
                        self.analysed_fps = {c["id"]: c["analysed_fps"]
                                             for c in r.json().get("cameras", [])}


class _Subscriber:
    """A police station and a parents' bridge: subscribers that take every message."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.count = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-police")
        self.client.on_message = lambda _c, _u, _m: self._one()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("campus/#", qos=1)
        self.client.loop_start()

    def _one(self) -> None:
        self.count += 1

    def close(self) -> None:
        close_client(self.client)


@contextlib.contextmanager
def _service(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gate", "--config", str(config), "run"],
                                stdout=subprocess.DEVNULL, stderr=out)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_soak(minutes: float, pupils: int = 600, warmup_min: int = 5,
             echo: Any = print, perimeter_cameras: int = 1) -> SoakResult:
    """Run the soak for ``minutes`` and return its samples; ``echo`` gets each line.
    ``perimeter_cameras`` cameras each play vtest.avi (people on every frame: the busy case)."""
    if not find_mosquitto():
        raise RuntimeError("the soak needs the mosquitto binary (apt-get install mosquitto)")
    result = SoakResult(warmup_min=warmup_min)
    with tempfile.TemporaryDirectory(prefix="campus-gate-soak-") as tmp:
        workdir = Path(tmp)
        ptys = {name: PtyPair() for name in ("L1-in", "L1-out")}
        broker = LocalBroker(workdir=workdir / "broker").start()
        port = free_port()
        config = _config(workdir, ptys, broker.port, port, _clips(workdir), perimeter_cameras)
        cards = _seed(workdir / "data", pupils)
        log = workdir / "gate.log"
        subscriber = _Subscriber(broker.port)
        try:
            with _service(config, log) as proc:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                            break
                    time.sleep(0.5)
                taps = _Taps(ptys, cards, minutes)
                consoles = _Consoles(url)
                taps.thread.start()
                for t in consoles.threads:
                    t.start()
                read_at = 0
                cpu_before = {n: c for n, pid in _process_names(proc.pid).items()
                              if (c := _cpu_seconds(pid)) is not None}  # start-up not counted
                started = time.monotonic()
                try:
                    for minute in range(1, int(minutes) + 1):
                        time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
                        if proc.poll() is not None:
                            raise RuntimeError(f"gate run exited ({proc.returncode}); see its log")
                        with log.open("rb") as f:
                            f.seek(read_at)
                            chunk = f.read().decode(errors="replace")
                            read_at = f.tell()
                        times = [float(m) for m in _DECISION.findall(chunk)]
                        pids = _process_names(proc.pid)
                        stats = {name: s for name, pid in pids.items()
                                 if (s := _proc_stats(pid)) is not None}
                        cpu_now = {n: c for n, pid in pids.items()
                                   if (c := _cpu_seconds(pid)) is not None}
                        cpu_pct = {n: 100 * (c - cpu_before.get(n, 0.0)) / 60
                                   for n, c in cpu_now.items()}
                        cpu_before = cpu_now
                        data = workdir / "data"
                        sample = Sample(
                            minute, {n: s[0] for n, s in stats.items()},
                            {n: s[1] for n, s in stats.items()},
                            {n: s[2] for n, s in stats.items()},
                            sum(p.stat().st_size for p in data.glob("gate.sqlite3*")),
                            _dir_bytes(data / "snapshots"), len(times), p99(times),
                            subscriber.count, cpu_pct, dict(consoles.analysed_fps))
                        result.samples.append(sample)
                        echo(sample.line())
                finally:
                    taps.stop.set()
                    consoles.stop.set()
        finally:
            subscriber.close()
            broker.stop()
            for p in ptys.values():
                p.close()
    slopes = result.slopes()
    echo(f"after warm-up (minute > {warmup_min}), per hour: " + json.dumps(
        {k: round(v, 3) for k, v in slopes.items()}))
    return result
