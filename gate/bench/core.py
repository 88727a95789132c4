"""Benchmarks of the card path that needs no camera: frame parsing and durable journal writes."""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from gate.bench import Figure, percentile, timings_ms
from gate.records import Event
from gate.store import Store
from rfid.protocols import Em4100Parser

FRAME = b"\x0262E3086CED08\x03"


def run(quick: bool) -> list[Figure]:
    n = 2_000 if quick else 20_000
    stream = FRAME * n
    parser = Em4100Parser()
    parse_ms = statistics.median(timings_ms(lambda: parser.feed(stream), repeat=3))
    figures = [Figure("rfid.em4100_parse_us_per_frame", parse_ms * 1000 / n, "us")]

    tz = ZoneInfo("Asia/Shanghai")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp), tz)
        try:
            def record() -> None:
                store.record_event(Event(type="arrival", ts=dt.datetime.now(tz), lane="L1"))

            samples = timings_ms(record, repeat=50 if quick else 300, warmup=5)
        finally:
            store.close()
    figures.append(Figure("store.record_event_p50_ms", statistics.median(samples), "ms"))
    figures.append(Figure("store.record_event_p99_ms", percentile(samples, 99), "ms"))
    return figures
