"""Perimeter zone rules: pure functions of sightings and an injected clock (no video, no model)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.config import CalendarConfig, ConfigError, PerimeterConfig, ZoneConfig, parse_config
from gate.perimeter.alerts import ObjectKind, PerimeterAlert, TrackSummary
from gate.perimeter.geometry import in_window, inside
from gate.perimeter.rules import Cooldown, PlateCircling, Sighting, WatchlistHits, ZoneRules

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=TZ)  # a school day, in school hours
SATURDAY_10 = dt.datetime(2026, 3, 7, 10, 0, tzinfo=TZ)
SQUARE = [(100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0)]
IN, OUT = (200.0, 200.0), (500.0, 500.0)
SETTINGS = PerimeterConfig()


def zone(**kw: object) -> ZoneConfig:
    return ZoneConfig.model_validate({"id": "pavement", "polygon": SQUARE, **kw})


class Clock:
    """Frames at a fixed rate from ``start``; the rules never read a clock of their own."""

    def __init__(self, start: dt.datetime, fps: float = 4.0) -> None:
        self.now, self.step = start, dt.timedelta(seconds=1 / fps)

    def tick(self) -> dt.datetime:
        self.now += self.step
        return self.now


def play(rules: ZoneRules, clock: Clock, seconds: float, *tracks: tuple[int, ObjectKind, tuple[
        float, float]]) -> tuple[list[PerimeterAlert], list[TrackSummary]]:
    alerts: list[PerimeterAlert] = []
    done: list[TrackSummary] = []
    for _ in range(round(seconds / clock.step.total_seconds())):
        a, f = rules.observe(clock.tick(), [Sighting(t, k, p) for t, k, p in tracks])
        alerts += a
        done += f
    return alerts, done


def of(alerts: Iterable[PerimeterAlert], kind: str) -> list[PerimeterAlert]:
    return [a for a in alerts if a.type == kind]


# -- geometry and windows -------------------------------------------------------------------

coord = st.floats(-1000, 1000, allow_nan=False)


@given(x0=coord, y0=coord, w=st.floats(1, 500), h=st.floats(1, 500), px=coord, py=coord)
def test_inside_matches_a_rectangle(x0: float, y0: float, w: float, h: float, px: float,
                                    py: float) -> None:
    poly = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    on_edge = px in (x0, x0 + w) or py in (y0, y0 + h)
    if not on_edge:
        assert inside((px, py), poly) == (x0 < px < x0 + w and y0 < py < y0 + h)


def test_inside_a_concave_polygon() -> None:
    u_shape = [(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30)]
    assert inside((5, 20), u_shape) and inside((25, 20), u_shape) and inside((15, 5), u_shape)
    assert not inside((15, 20), u_shape)


times = st.times().map(lambda t: t.replace(microsecond=0))


@given(t=times, a=times, b=times)
def test_a_window_and_its_wrap_around_complement_split_the_day(t: dt.time, a: dt.time,
                                                                b: dt.time) -> None:
    if a != b:
        assert in_window(t, (a, b)) != in_window(t, (b, a))


def test_night_window_wraps_midnight() -> None:
    night = (dt.time(19, 0), dt.time(6, 30))
    assert in_window(dt.time(23, 0), night) and in_window(dt.time(2, 0), night)
    assert not in_window(dt.time(12, 0), night)


def test_zone_config_keys_and_errors() -> None:
    cfg = parse_config({"cameras": [{"id": "north", "source": "x.avi", "role": "perimeter",
                                     "zones": [{"id": "gate-pavement", "polygon": SQUARE,
                                                "loiter_seconds": 120,
                                                "armed_times": ["19:00-06:30"]}]}]})
    z = cfg.cameras[0].zones[0]
    assert z.loiter_seconds == 120 and z.armed_times == [(dt.time(19), dt.time(6, 30))]
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.zones\[0\]\.polygon"):
        parse_config({"cameras": [{"id": "n", "source": "x", "role": "perimeter",
                                   "zones": [{"id": "z", "polygon": [[0, 0], [1, 1]]}]}]})
    with pytest.raises(ConfigError, match=r"zones\[0\]\.armed_times.*time window"):
        parse_config({"cameras": [{"id": "n", "source": "x", "role": "perimeter",
                                   "zones": [{"id": "z", "polygon": SQUARE,
                                              "armed_times": ["19:00"]}]}]})
    with pytest.raises(ConfigError, match=r"cameras\[0\]: .*duplicate id z"):
        parse_config({"cameras": [{"id": "n", "source": "x", "role": "perimeter",
                                   "zones": [{"id": "z", "polygon": SQUARE},
                                             {"id": "z", "polygon": SQUARE}]}]})
    with pytest.raises(ConfigError, match=r"zones\[0\]\.loiter_secs: unknown key"):
        parse_config({"cameras": [{"id": "n", "source": "x", "role": "perimeter",
                                   "zones": [{"id": "z", "polygon": SQUARE,
                                              "loiter_secs": 3}]}]})


# -- loitering --------------------------------------------------------------------------------

def test_a_loiterer_is_one_alert_updated_and_a_passer_by_none() -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=120)], SETTINGS)
    clock = Clock(MONDAY_10)
    alerts, _ = play(rules, clock, 200, (1, "person", IN), (2, "person", OUT))
    assert {a.track for a in alerts} == {1}
    first = alerts[0]
    assert first.type == "loitering" and first.rule == "loiter" and first.revision == 0
    assert 120 <= first.dwell_s < 121 and first.severity == "warning"
    assert {a.id for a in alerts} == {first.id}, "updates keep the alert's id"
    assert [a.revision for a in alerts] == list(range(len(alerts)))
    assert 2 <= len(alerts) <= 4, "an update every 30 s at most, not one per frame"
    assert all(b.dwell_s > a.dwell_s for a, b in itertools.pairwise(alerts))
    # the loiterer walks away and the track ends: a final revision with the whole dwell
    alerts, done = play(rules, clock, 10)
    assert len(alerts) == 1 and alerts[0].final and alerts[0].id == first.id
    assert 199 <= alerts[0].dwell_s <= 200
    assert {d.track: d.zones for d in done} == {1: ("pavement",), 2: ()}
    assert done[0].dwell_s["pavement"] == pytest.approx(alerts[0].dwell_s, abs=0.3)


def test_passing_through_is_not_loitering() -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=60)], SETTINGS)
    clock = Clock(MONDAY_10)
    alerts, _ = play(rules, clock, 50, (1, "person", IN))
    alerts2, _ = play(rules, clock, 30, (1, "person", OUT))
    assert alerts == alerts2 == []


def test_a_short_occlusion_does_not_restart_the_dwell() -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=60)], SETTINGS)
    clock = Clock(MONDAY_10)
    a1, _ = play(rules, clock, 40, (1, "person", IN))
    a2, _ = play(rules, clock, 2)  # hidden behind a van for 2 s (< exit grace of 3 s)
    a3, _ = play(rules, clock, 20, (1, "person", IN))
    assert a1 == a2 == [] and len(a3) == 1 and a3[0].dwell_s >= 60


def test_leaving_longer_than_the_grace_restarts_the_dwell() -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=60)], SETTINGS)
    clock = Clock(MONDAY_10)
    a1, _ = play(rules, clock, 40, (1, "person", IN))
    a2, _ = play(rules, clock, 10, (1, "person", OUT))
    a3, _ = play(rules, clock, 40, (1, "person", IN))
    assert a1 == a2 == a3 == []


def test_coming_back_k_times_is_loitering() -> None:
    rules = ZoneRules("north", [zone(revisits=3, revisit_minutes=5)], SETTINGS)
    clock = Clock(MONDAY_10)
    alerts: list[PerimeterAlert] = []
    for _ in range(3):
        a, _ = play(rules, clock, 10, (7, "person", IN))
        b, _ = play(rules, clock, 30, (7, "person", OUT))
        alerts += a + b
    assert len(alerts) == 1 and alerts[0].rule == "revisits" and alerts[0].passes == 3


def test_revisits_spread_wider_than_the_window_are_not() -> None:
    rules = ZoneRules("north", [zone(revisits=3, revisit_minutes=2)], SETTINGS)
    clock = Clock(MONDAY_10)
    alerts: list[PerimeterAlert] = []
    for _ in range(3):
        a, _ = play(rules, clock, 10, (7, "person", IN))
        b, _ = play(rules, clock, 60, (7, "person", OUT))
        alerts += a + b
    assert alerts == []


def test_after_the_cooldown_the_same_loiterer_is_a_new_alert() -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=30, cooldown_minutes=2)], SETTINGS)
    clock = Clock(MONDAY_10)
    a1, _ = play(rules, clock, 40, (1, "person", IN))
    play(rules, clock, 60, (1, "person", OUT))  # 1 min away: within the cooldown
    a2, _ = play(rules, clock, 40, (1, "person", IN))
    play(rules, clock, 180, (1, "person", OUT))  # 3 min away: the cooldown has passed
    a3, _ = play(rules, clock, 40, (1, "person", IN))
    assert len({a.id for a in a1 + a2}) == 1
    assert a3 and a3[0].revision == 0 and a3[0].id != a1[0].id


@pytest.mark.parametrize(("start", "always", "expected"), [
    (MONDAY_10, False, 1),
    (SATURDAY_10, False, 0),  # loitering runs in school hours only, by default
    (MONDAY_10.replace(hour=21), False, 0),
    (SATURDAY_10, True, 1),
])
def test_loitering_follows_the_school_calendar(start: dt.datetime, always: bool,
                                               expected: int) -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=30, always=always)], SETTINGS,
                      CalendarConfig())
    alerts, _ = play(rules, Clock(start), 35, (1, "person", IN))
    assert len(alerts) == expected


# -- intrusion, no-stopping, vehicles ---------------------------------------------------------

@pytest.mark.parametrize(("start", "kind", "expected"), [
    (MONDAY_10.replace(hour=22), "person", 1),
    (MONDAY_10, "person", 0),
    (SATURDAY_10, "person", 1),  # armed on non-school days
    (MONDAY_10.replace(hour=22), "vehicle", 0),  # only people are intruders here
])
def test_intrusion_in_an_armed_zone_is_at_once(start: dt.datetime, kind: ObjectKind,
                                               expected: int) -> None:
    rules = ZoneRules("yard", [zone(armed_times=["19:00-06:30"], armed_non_school_days=True)],
                      SETTINGS)
    clock = Clock(start)
    alerts, _ = play(rules, clock, 0.25, (3, kind, IN))
    assert len(alerts) == expected
    if expected:
        assert alerts[0].type == "intrusion" and alerts[0].severity == "critical"
        assert alerts[0].dwell_s == 0 and alerts[0].camera == "yard"


@pytest.mark.parametrize(("hour", "minute", "expected"), [(7, 30, 1), (10, 0, 0), (16, 15, 1)])
def test_stopping_in_a_no_stopping_zone_at_school_run(hour: int, minute: int,
                                                      expected: int) -> None:
    rules = ZoneRules("north", [zone(no_stopping=True, stop_seconds=30)], SETTINGS)
    clock = Clock(MONDAY_10.replace(hour=hour, minute=minute))
    alerts, _ = play(rules, clock, 40, (4, "vehicle", IN))
    passing, _ = play(rules, clock, 10, (5, "vehicle", (150, 150)))
    assert len(alerts) == expected and [a for a in passing if a.track == 5] == []
    if expected:
        assert alerts[0].rule == "no_stopping" and alerts[0].object == "vehicle"


def test_a_vehicle_re_entering_k_times_is_circling() -> None:
    rules = ZoneRules("north", [zone(circling_passes=3, circling_minutes=10)], SETTINGS)
    clock = Clock(MONDAY_10)
    alerts: list[PerimeterAlert] = []
    for _ in range(3):
        a, _ = play(rules, clock, 5, (9, "vehicle", IN))
        b, _ = play(rules, clock, 60, (9, "vehicle", OUT))
        alerts += a + b
    people, _ = play(rules, clock, 5, (10, "person", IN))
    assert [(a.type, a.rule, a.passes) for a in alerts] == [
        ("circling_vehicle", "track_reentry", 3)]
    assert people == []


# -- circling by plate, across cameras --------------------------------------------------------

def test_a_plate_read_on_three_passes_across_cameras_is_circling() -> None:
    circling = PlateCircling(PerimeterConfig(circling_passes=3, circling_minutes=15,
                                             pass_gap_seconds=60))
    t0 = MONDAY_10
    reads = [  # (seconds, plate, camera): generated lane and perimeter reads
        (0, "粤B12345", "car-cam"), (8, "粤B12345", "north-street"),  # one pass, two cameras
        (30, "粤A00001", "car-cam"),  # a parent, once
        (240, "粤B12345", "south-street"),
        (250, "粤A00002", "north-street"),
        (480, "粤B12345", "north-street"), (485, "粤B12345", "car-cam"),
        (700, "粤B12345", "car-cam"),
    ]
    alerts = [a for s, plate, cam in reads
              if (a := circling.observe(plate, cam, t0 + dt.timedelta(seconds=s))) is not None]
    assert [(a.plate, a.passes, a.revision) for a in alerts] == [
        ("粤B12345", 3, 0), ("粤B12345", 4, 1)]
    first = alerts[0]
    assert first.type == "circling_vehicle" and first.rule == "plate_passes"
    assert first.cameras == ("car-cam", "north-street", "south-street")
    assert first.dwell_s == 480 and alerts[1].id == first.id


def test_passes_spread_wider_than_the_window_are_not_circling() -> None:
    circling = PlateCircling(PerimeterConfig(circling_passes=3, circling_minutes=15))
    alerts = [circling.observe("粤B12345", "car-cam", MONDAY_10 + dt.timedelta(minutes=m))
              for m in (0, 10, 20, 30)]
    assert alerts == [None] * 4


# -- one incident, one alert ------------------------------------------------------------------

@given(gaps=st.lists(st.floats(0.1, 1200), min_size=1, max_size=40),
       cooldown=st.floats(1, 900), update=st.floats(1, 120))
def test_cooldown_one_alert_per_incident(gaps: list[float], cooldown: float,
                                         update: float) -> None:
    """Triggers closer than the cooldown are one incident (one id, consecutive revisions, no
    two sent within ``update`` seconds); a quiet gap longer than the cooldown starts another."""
    cd = Cooldown(update)
    now = MONDAY_10
    sent: list[PerimeterAlert] = []
    incidents = 1
    for i, gap in enumerate(gaps):
        step = dt.timedelta(seconds=gap)  # microsecond resolution: compare what was applied
        now += step
        if i and step.total_seconds() > cooldown:
            incidents += 1
        alert = PerimeterAlert(type="loitering", rule="loiter", ts=now, first_ts=now,
                               dwell_s=0.0)
        out = cd.trigger(("loitering", "z", "1"), alert, cooldown)
        if out is not None:
            sent.append(out)
    assert len({a.id for a in sent}) == incidents
    for a, b in itertools.pairwise(sent):
        if a.id == b.id:
            assert b.revision == a.revision + 1 and b.first_ts == a.first_ts
            assert (b.ts - a.ts).total_seconds() >= update
        else:
            assert b.revision == 0


def test_watchlist_hits_are_one_alert_per_person_and_camera() -> None:
    hits = WatchlistHits(SETTINGS, cooldown_minutes=5)
    t0 = MONDAY_10
    got = [hits.observe("watchlist_face", "north", "W-17", t0 + dt.timedelta(seconds=s),
                        track=4) for s in (0, 5, 40, 80)]
    other = hits.observe("watchlist_face", "south", "W-17", t0 + dt.timedelta(seconds=90))
    later = hits.observe("watchlist_face", "north", "W-17", t0 + dt.timedelta(minutes=20))
    plate = hits.observe("watchlist_plate", "north", "粤B12345", t0)
    sent = [a for a in got if a is not None]
    assert [a.revision for a in sent] == [0, 1, 2] and len({a.id for a in sent}) == 1
    assert sent[0].severity == "critical" and sent[0].details()["watch_id"] == "W-17"
    assert sent[2].dwell_s == 80
    assert other is not None and other.id != sent[0].id
    assert later is not None and later.revision == 0 and later.id != sent[0].id
    assert plate is not None and plate.plate == "粤B12345" and plate.object == "vehicle"
    with pytest.raises(ValueError):
        hits.observe("loitering", "north", "x", t0)


@given(stay=st.floats(1, 300), threshold=st.floats(1, 300))
def test_loitering_fires_exactly_when_the_stay_reaches_the_threshold(stay: float,
                                                                     threshold: float) -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=threshold)], SETTINGS)
    clock = Clock(MONDAY_10)
    frames = round(stay * 4)
    alerts, _ = play(rules, clock, frames / 4, (1, "person", IN))
    dwell = (frames - 1) / 4  # from the first frame inside to the last
    incidents = {a.id for a in alerts}
    assert len(incidents) == (1 if dwell >= threshold else 0)
    if alerts:
        assert threshold <= alerts[0].dwell_s < threshold + 0.25


def test_a_holiday_arms_the_zone_all_day() -> None:
    holiday = MONDAY_10.date()
    rules = ZoneRules("yard", [zone(armed_non_school_days=True)], SETTINGS,
                      CalendarConfig(holidays=[holiday]))
    alerts, _ = play(rules, Clock(MONDAY_10), 0.25, (3, "person", IN))
    workday = ZoneRules("yard", [zone(armed_non_school_days=True)], SETTINGS, CalendarConfig())
    none, _ = play(workday, Clock(MONDAY_10), 0.25, (3, "person", IN))
    assert [a.type for a in alerts] == ["intrusion"] and none == []


def test_an_alert_becomes_a_journal_record() -> None:
    rules = ZoneRules("north", [zone(loiter_seconds=30)], SETTINGS)
    alert = play(rules, Clock(MONDAY_10), 31, (1, "person", IN))[0][0]
    record = alert.to_record(snapshot="snapshots/x.jpg")
    assert (record.type, record.severity, record.id) == ("loitering", "warning", alert.id)
    assert record.snapshot == "snapshots/x.jpg" and record.ts == alert.ts
    assert record.details["zone"] == "pavement" and record.details["dwell_s"] == 30.0
    assert record.details["first_ts"].endswith("+08:00")
