"""Zone rules: pure functions of sightings and ``now`` (the caller's clock), no I/O, no pixels.

A perimeter worker feeds one ``ZoneRules`` per camera with the tracks it sees in each analysed
frame; ``PlateCircling`` runs in the service and is fed plate reads from every camera (lane and
perimeter), because a vehicle circling the block is seen by different cameras on each pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from gate.config import CalendarConfig, PerimeterConfig, ZoneConfig
from gate.perimeter.alerts import AlertType, ObjectKind, PerimeterAlert, TrackSummary
from gate.perimeter.geometry import Point, in_any, in_window, inside


@dataclass(frozen=True)
class Sighting:
    """One tracked object in one analysed frame; ``point`` is where it stands (box bottom
    centre), since a zone drawn on the pavement is about feet and wheels, not heads."""

    track: int
    kind: ObjectKind
    point: Point


@dataclass
class _Visit:
    entered: dt.datetime
    last_inside: dt.datetime

    @property
    def dwell_s(self) -> float:
        return (self.last_inside - self.entered).total_seconds()


@dataclass
class _Track:
    kind: ObjectKind
    first: dt.datetime
    last: dt.datetime
    path: deque[Point] = field(default_factory=lambda: deque(maxlen=400))
    visits: dict[str, _Visit] = field(default_factory=dict)
    entries: dict[str, deque[dt.datetime]] = field(default_factory=dict)
    dwell: dict[str, float] = field(default_factory=dict)  # finished visits, per zone


@dataclass
class _Incident:
    alert: PerimeterAlert
    last_trigger: dt.datetime
    emitted: PerimeterAlert


class Cooldown:
    """One incident per (type, zone, subject): the first trigger is a new alert; triggers within
    ``cooldown`` of the previous one update it (same id, next revision) at most every
    ``update_s`` seconds; after a quiet ``cooldown`` a trigger starts a new incident."""

    def __init__(self, update_s: float) -> None:
        self.update_s = update_s
        self._open: dict[tuple[str, str | None, str], _Incident] = {}

    def trigger(self, key: tuple[str, str | None, str], alert: PerimeterAlert,
                cooldown_s: float) -> PerimeterAlert | None:
        now = alert.ts
        inc = self._open.get(key)
        if inc is None or (now - inc.last_trigger).total_seconds() > cooldown_s:
            self._open[key] = _Incident(alert, now, alert)
            return alert
        inc.last_trigger = now
        if (now - inc.emitted.ts).total_seconds() < self.update_s:
            return None
        update = dataclasses.replace(alert, id=inc.alert.id, first_ts=inc.alert.first_ts,
                                     revision=inc.emitted.revision + 1)
        inc.emitted = update
        return update

    def close(self, key: tuple[str, str | None, str],
              final: PerimeterAlert) -> PerimeterAlert | None:
        """The visit is over: a last revision if the dwell grew since the last one sent."""
        inc = self._open.get(key)
        if inc is None or final.dwell_s <= inc.emitted.dwell_s + 0.05:
            return None
        update = dataclasses.replace(final, id=inc.alert.id, first_ts=inc.alert.first_ts,
                                     revision=inc.emitted.revision + 1, final=True)
        inc.emitted = update
        return update

    def expire(self, now: dt.datetime, max_cooldown_s: float) -> None:
        for key in [k for k, inc in self._open.items()
                    if (now - inc.last_trigger).total_seconds() > max_cooldown_s]:
            del self._open[key]

    def trigger_is_new(self, key: tuple[str, str | None, str], now: dt.datetime,
                       cooldown_s: float) -> bool:
        """Would a trigger at ``now`` start a new incident?"""
        inc = self._open.get(key)
        return inc is None or (now - inc.last_trigger).total_seconds() > cooldown_s

    def is_open(self, key: tuple[str, str | None, str]) -> bool:
        return key in self._open

    def last_sent(self, key: tuple[str, str | None, str]) -> PerimeterAlert:
        return self._open[key].emitted

    def keys_for(self, subject: str) -> list[tuple[str, str | None, str]]:
        return [k for k in self._open if k[2] == subject]


class Schedule:
    """When each rule is on: school hours from the attendance calendar, school-run windows for
    no-stopping, armed windows for intrusion. ``ignore`` switches every time condition off (offline
    analysis of footage whose wall time is unknown): all rules run and armed zones are armed."""

    def __init__(self, calendar: CalendarConfig, settings: PerimeterConfig,
                 ignore: bool = False) -> None:
        self.calendar, self.settings, self.ignore = calendar, settings, ignore

    def school_hours(self, zone: ZoneConfig, now: dt.datetime) -> bool:
        if self.ignore or zone.always:
            return True
        return (self.calendar.is_school_day(now.date())
                and in_window(now.time(), self.settings.school_hours))

    def no_stopping(self, zone: ZoneConfig, now: dt.datetime) -> bool:
        if not zone.no_stopping:
            return False
        if self.ignore:
            return True
        return self.calendar.is_school_day(now.date()) and in_any(now.time(),
                                                                  zone.no_stopping_times)

    def armed(self, zone: ZoneConfig, now: dt.datetime) -> bool:
        if not zone.armed_times and not zone.armed_non_school_days:
            return False
        if self.ignore:
            return True
        if zone.armed_non_school_days and not self.calendar.is_school_day(now.date()):
            return True
        return in_any(now.time(), zone.armed_times)


class ZoneRules:
    """Loitering, revisits, track re-entry of vehicles, no-stopping and intrusion on one camera."""

    def __init__(self, camera: str, zones: Sequence[ZoneConfig], settings: PerimeterConfig,
                 calendar: CalendarConfig | None = None, ignore_schedule: bool = False) -> None:
        self.camera = camera
        self.zones = list(zones)
        self.settings = settings
        self.schedule = Schedule(calendar or CalendarConfig(), settings, ignore_schedule)
        self.cooldown = Cooldown(settings.alert_update_seconds)
        self._tracks: dict[int, _Track] = {}
        self._max_cooldown_s = max((z.cooldown_minutes * 60 for z in self.zones), default=0.0)

    @property
    def live_tracks(self) -> int:
        return len(self._tracks)

    def track_ids(self) -> set[int]:
        return set(self._tracks)

    def observe(self, now: dt.datetime,
                sightings: Sequence[Sighting]) -> tuple[list[PerimeterAlert], list[TrackSummary]]:
        """The tracks seen in one frame at ``now``; returns new or updated alerts and the
        tracks that ended (not seen for ``track_lost_seconds``)."""
        alerts: list[PerimeterAlert] = []
        grace = self.settings.exit_grace_seconds
        for s in sightings:
            tr = self._tracks.get(s.track)
            if tr is None:
                tr = self._tracks[s.track] = _Track(s.kind, now, now)
            tr.last, tr.kind = now, s.kind
            tr.path.append(s.point)
            for zone in self.zones:
                visit = tr.visits.get(zone.id)
                if visit is not None and (now - visit.last_inside).total_seconds() > grace:
                    alerts.extend(self._end_visit(s.track, tr, zone.id))
                    visit = None
                if not inside(s.point, zone.polygon):
                    continue
                if visit is None:
                    visit = tr.visits[zone.id] = _Visit(now, now)
                    alerts.extend(self._entered(zone, s, tr, now))
                visit.last_inside = now
                alerts.extend(self._staying(zone, s, tr, visit, now))
        finished = self._finish_lost(now, alerts)
        self.cooldown.expire(now, self._max_cooldown_s)
        return alerts, finished

    def finish(self, now: dt.datetime) -> tuple[list[PerimeterAlert], list[TrackSummary]]:
        """End of the footage: every track ends now."""
        alerts: list[PerimeterAlert] = []
        done = [self._summary(tid, tr, alerts) for tid, tr in sorted(self._tracks.items())]
        self._tracks.clear()
        return alerts, done

    def paths(self) -> dict[int, tuple[ObjectKind, list[Point]]]:
        """Live tracks and their paths, for the live view and snapshots."""
        return {tid: (tr.kind, list(tr.path)) for tid, tr in self._tracks.items()}

    # -- rules -------------------------------------------------------------------------------

    def _entered(self, zone: ZoneConfig, s: Sighting, tr: _Track,
                 now: dt.datetime) -> list[PerimeterAlert]:
        entries = tr.entries.setdefault(zone.id, deque())
        entries.append(now)
        out: list[PerimeterAlert] = []
        if s.kind == "person" and zone.revisits is not None:
            window = zone.revisit_minutes * 60
            count = sum((now - t).total_seconds() <= window for t in entries)
            if count >= zone.revisits and self.schedule.school_hours(zone, now):
                out += self._fire("loitering", "revisits", zone, s, tr, now, entries[0], count)
        if s.kind != "person" and zone.circling_passes is not None:
            window = zone.circling_minutes * 60
            count = sum((now - t).total_seconds() <= window for t in entries)
            if count >= zone.circling_passes and self.schedule.school_hours(zone, now):
                out += self._fire("circling_vehicle", "track_reentry", zone, s, tr, now,
                                  entries[0], count)
        return out

    def _staying(self, zone: ZoneConfig, s: Sighting, tr: _Track, visit: _Visit,
                 now: dt.datetime) -> list[PerimeterAlert]:
        out: list[PerimeterAlert] = []
        if s.kind in zone.intrusion_objects and self.schedule.armed(zone, now):
            out += self._fire("intrusion", "armed", zone, s, tr, now, visit.entered)
        if (s.kind == "person" and zone.loiter_seconds is not None
                and visit.dwell_s >= zone.loiter_seconds and self.schedule.school_hours(zone, now)):
            out += self._fire("loitering", "loiter", zone, s, tr, now, visit.entered)
        if visit.dwell_s >= zone.stop_seconds and self.schedule.no_stopping(zone, now):
            out += self._fire("loitering", "no_stopping", zone, s, tr, now, visit.entered)
        return out

    def _fire(self, kind: AlertType, rule: str, zone: ZoneConfig, s: Sighting, tr: _Track,
              now: dt.datetime, since: dt.datetime, passes: int | None = None
              ) -> list[PerimeterAlert]:
        alert = PerimeterAlert(type=kind, rule=rule, ts=now, first_ts=since,
                               dwell_s=(now - since).total_seconds(), camera=self.camera,
                               zone=zone.id, track=s.track, object=s.kind, passes=passes,
                               path=tuple(tr.path))
        sent = self.cooldown.trigger((kind, zone.id, str(s.track)), alert,
                                     zone.cooldown_minutes * 60)
        return [sent] if sent is not None else []

    # -- track ends --------------------------------------------------------------------------

    def _end_visit(self, tid: int, tr: _Track, zone_id: str) -> list[PerimeterAlert]:
        """The object left the zone: the incidents this visit started get their last revision
        with the whole dwell (an incident from revisits spans visits and is left as it is)."""
        visit = tr.visits.pop(zone_id)
        tr.dwell[zone_id] = tr.dwell.get(zone_id, 0.0) + visit.dwell_s
        out: list[PerimeterAlert] = []
        for key in self.cooldown.keys_for(str(tid)):
            if key[1] != zone_id:
                continue
            sent = self.cooldown.last_sent(key)
            if sent.first_ts != visit.entered or sent.final:
                continue
            final = dataclasses.replace(sent, ts=visit.last_inside, dwell_s=visit.dwell_s,
                                        path=tuple(tr.path))
            closed = self.cooldown.close(key, final)
            if closed is not None:
                out.append(closed)
        return out

    def _finish_lost(self, now: dt.datetime, alerts: list[PerimeterAlert]) -> list[TrackSummary]:
        lost_s = self.settings.track_lost_seconds + self.settings.exit_grace_seconds
        gone = [tid for tid, tr in self._tracks.items() if (now - tr.last).total_seconds() > lost_s]
        done = [self._summary(tid, self._tracks[tid], alerts) for tid in sorted(gone)]
        for tid in gone:
            del self._tracks[tid]
        return done

    def _summary(self, tid: int, tr: _Track, alerts: list[PerimeterAlert]) -> TrackSummary:
        for zone_id in list(tr.visits):
            alerts.extend(self._end_visit(tid, tr, zone_id))
        zones = tuple(z.id for z in self.zones if z.id in tr.dwell)
        return TrackSummary(self.camera, tid, tr.kind, tr.first, tr.last, zones,
                            {z: tr.dwell[z] for z in zones})


@dataclass
class _Pass:
    start: dt.datetime
    last: dt.datetime
    cameras: set[str]


class PlateCircling:
    """The same plate on K separate passes within T minutes, from any cameras: a vehicle
    circling the school. Reads closer together than ``pass_gap_s`` are one pass (the lane
    camera and a perimeter camera both reading the car as it goes by)."""

    def __init__(self, settings: PerimeterConfig, cooldown_minutes: float = 10.0) -> None:
        self.passes_needed = settings.circling_passes
        self.window_s = settings.circling_minutes * 60
        self.gap_s = settings.pass_gap_seconds
        self.cooldown_s = cooldown_minutes * 60
        self.cooldown = Cooldown(settings.alert_update_seconds)
        self._passes: dict[str, deque[_Pass]] = {}

    def observe(self, plate: str, camera: str, now: dt.datetime) -> PerimeterAlert | None:
        passes = self._passes.setdefault(plate, deque())
        if passes and (now - passes[-1].last).total_seconds() <= self.gap_s:
            passes[-1].last = now
            passes[-1].cameras.add(camera)
            return None  # the same pass: nothing new to count
        passes.append(_Pass(now, now, {camera}))
        while passes and (now - passes[0].start).total_seconds() > self.window_s:
            passes.popleft()
        self._forget_old(now)
        if len(passes) < self.passes_needed:
            return None
        cameras = tuple(sorted(set().union(*(p.cameras for p in passes))))
        alert = PerimeterAlert(type="circling_vehicle", rule="plate_passes", ts=now,
                               first_ts=passes[0].start,
                               dwell_s=(now - passes[0].start).total_seconds(), camera=camera,
                               plate=plate, object="vehicle", cameras=cameras,
                               passes=len(passes))
        return self.cooldown.trigger(("circling_vehicle", None, plate), alert, self.cooldown_s)

    def _forget_old(self, now: dt.datetime) -> None:
        stale = [p for p, q in self._passes.items()
                 if q and (now - q[-1].last).total_seconds() > self.window_s]
        for plate in stale:
            del self._passes[plate]
        self.cooldown.expire(now, max(self.cooldown_s, self.window_s))


class WatchlistHits:
    """Watch-list hits on perimeter cameras (a face matched from a head crop, a plate read on
    the street): one alert per person or plate and camera, updated while it is still seen,
    new after ``cooldown_minutes`` without a sighting."""

    def __init__(self, settings: PerimeterConfig, cooldown_minutes: float = 10.0) -> None:
        self.cooldown_s = cooldown_minutes * 60
        self.cooldown = Cooldown(settings.alert_update_seconds)
        self._first: dict[tuple[str, str, str], dt.datetime] = {}

    def observe(self, kind: AlertType, camera: str, subject: str, now: dt.datetime,
                track: int | None = None) -> PerimeterAlert | None:
        """``subject``: the watch-list entry's id (faces) or the plate text (plates)."""
        if kind not in ("watchlist_face", "watchlist_plate"):
            raise ValueError(f"not a watch-list alert type: {kind}")
        key = (kind, camera, subject)
        self.cooldown.expire(now, self.cooldown_s)
        self._first = {k: v for k, v in self._first.items() if self.cooldown.is_open(k)}
        if self.cooldown.trigger_is_new(key, now, self.cooldown_s):
            self._first[key] = now
        first = self._first[key]
        plate = subject if kind == "watchlist_plate" else None
        alert = PerimeterAlert(type=kind, rule="watchlist", ts=now, first_ts=first,
                               dwell_s=(now - first).total_seconds(), camera=camera, track=track,
                               object="vehicle" if plate else "person", plate=plate,
                               cameras=(camera,), watch_id=None if plate else subject)
        return self.cooldown.trigger(key, alert, self.cooldown_s)
