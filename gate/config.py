"""Typed, validated gate configuration.

Installers edit one TOML file; every mistake in it must be reported with the
exact key path (``lanes[0].readers[1].baud``) so it can be fixed from the
error alone, and unknown keys are rejected so a typo never silently turns a
setting off.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic import Strict as StrictType

from recognition.plate_formats import province

DEFAULT_CONFIG_PATH = Path("/etc/campus-gate/gate.toml")
DEFAULT_DATA_DIR = Path("/var/lib/campus-gate")

SERIAL_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
Baud = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
TopicSegment = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is one line per problem."""


class Strict(BaseModel):
    """No coercion: ``port = "1883"`` is an error, not a number (strict mode). Paths,
    dates and tuples, which TOML cannot spell natively, are the marked exceptions."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# TOML has no path type, writes a pair as an array, and a quoted date is still a date.
LaxPath = Annotated[Path, StrictType(False)]
LaxDate = Annotated[dt.date, StrictType(False)]


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a time of day (HH:MM)") from exc
    return value


class Period(Strict):
    """A span of the school day, e.g. a lesson block."""

    start: dt.time
    end: dt.time
    name: str = ""

    _times = field_validator("start", "end", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def contains(self, moment: dt.time) -> bool:
        return self.start <= moment < self.end


class CalendarConfig(Strict):
    """When school is in session: drives late marks, early-departure alerts and absences."""

    school_days: list[Annotated[int, Field(ge=1, le=7)]] = [1, 2, 3, 4, 5]
    term_start: LaxDate | None = None
    term_end: LaxDate | None = None
    holidays: list[LaxDate] = []
    lessons: list[Period] = [
        Period(start=dt.time(8, 0), end=dt.time(11, 50), name="morning"),
        Period(start=dt.time(13, 30), end=dt.time(16, 30), name="afternoon"),
    ]
    late_after: dt.time = dt.time(7, 55)
    absent_cutoff: dt.time = dt.time(9, 0)

    _times = field_validator("late_after", "absent_cutoff", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _term_ordered(self) -> CalendarConfig:
        if self.term_start and self.term_end and self.term_end < self.term_start:
            raise ValueError("term_end must not be before term_start")
        return self

    def is_school_day(self, day: dt.date) -> bool:
        if day.isoweekday() not in self.school_days or day in self.holidays:
            return False
        if self.term_start and day < self.term_start:
            return False
        return not (self.term_end and day > self.term_end)

    def in_lesson(self, moment: dt.datetime) -> bool:
        if not self.is_school_day(moment.date()):
            return False
        return any(p.contains(moment.time()) for p in self.lessons)


class ReaderConfig(Strict):
    """One serial card reader at a lane."""

    id: Identifier
    port: str
    protocol: Literal["em4100", "uid-line", "wiegand", "qr-line", "auto"] = "em4100"
    direction: Literal["entry", "exit"]
    baud: Baud = 9600
    byte_order: Literal["as-is", "reversed"] = "as-is"
    holdoff_ms: Annotated[int, Field(ge=0, le=60_000)] = 1500


class RelayConfig(Strict):
    """The gate's lock or barrier driver.

    ``fail`` is what the gate does when the service stops or crashes: ``open``
    (fail-safe: pupils can always leave, the default for fire egress) or
    ``closed`` (fail-secure).
    """

    kind: Literal["lcus", "dry-run"] = "dry-run"
    port: str | None = None
    channel: Annotated[int, Field(ge=1, le=8)] = 1
    baud: Baud = 9600
    pulse_ms: Annotated[int, Field(ge=100, le=30_000)] = 800
    fail: Literal["open", "closed"] = "open"

    @model_validator(mode="after")
    def _port_for_hardware(self) -> RelayConfig:
        if self.kind == "lcus" and not self.port:
            raise ValueError("an lcus relay needs a port")
        return self


class LaneConfig(Strict):
    id: Identifier
    camera: Identifier | None = None
    vehicle_camera: Identifier | None = None
    relay: RelayConfig = RelayConfig()
    readers: list[ReaderConfig] = []
    # Liveness of the faces at this lane's camera (README "Liveness"): "alert" raises
    # spoof_attempt on a card+face passage, "required" also refuses face-only passages.
    liveness: Literal["off", "alert", "required"] = "off"


def _parse_window(value: Any) -> Any:
    """``"HH:MM-HH:MM"`` (may wrap midnight) -> (start, end) times."""
    if isinstance(value, str):
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f"{value!r} is not a time window (HH:MM-HH:MM)")
        return (_parse_hhmm(start.strip()), _parse_hhmm(end.strip()))
    return value


def _parse_windows(value: Any) -> Any:
    return [_parse_window(v) for v in value] if isinstance(value, list) else value


TimeWindow = tuple[dt.time, dt.time]
PerimeterObject = Literal["person", "vehicle", "two_wheeler"]


class ZoneConfig(Strict):
    """A named polygon on a perimeter camera (pixels of its frame) and the rules it runs.

    README "Perimeter cameras" explains each rule; a rule whose key is unset is off.
    """

    id: Identifier
    polygon: Annotated[list[Annotated[tuple[float, float], StrictType(False)]],
                       Field(min_length=3)]
    loiter_seconds: Annotated[float, Field(gt=0)] | None = None  # a person staying this long
    revisits: Annotated[int, Field(ge=2)] | None = None  # K entries of one track in T minutes
    revisit_minutes: Annotated[float, Field(gt=0)] = 10.0
    circling_passes: Annotated[int, Field(ge=2)] | None = None  # a vehicle re-entering K times
    circling_minutes: Annotated[float, Field(gt=0)] = 10.0
    no_stopping: bool = False
    stop_seconds: Annotated[float, Field(gt=0)] = 30.0
    no_stopping_times: list[TimeWindow] = [(dt.time(7, 0), dt.time(8, 30)),
                                           (dt.time(11, 30), dt.time(12, 30)),
                                           (dt.time(16, 0), dt.time(17, 30))]
    armed_times: list[TimeWindow] = []  # intrusion: every day in these windows
    armed_non_school_days: bool = False  # intrusion: all day on weekends, holidays, out of term
    intrusion_objects: list[PerimeterObject] = ["person"]
    always: bool = False  # loitering and circling also outside school hours
    cooldown_minutes: Annotated[float, Field(ge=0.5)] = 10.0  # quiet time that ends an incident

    _windows = field_validator("no_stopping_times", "armed_times", mode="before")(_parse_windows)


class PerimeterConfig(Strict):
    """Site-wide perimeter settings; zones belong to each ``role = "perimeter"`` camera."""

    fps: Annotated[float, Field(gt=0, le=30)] = 5.0  # frames analysed per second per camera
    input_size: Annotated[tuple[Annotated[int, Field(ge=96, le=1920, multiple_of=32)],
                                Annotated[int, Field(ge=96, le=1920, multiple_of=32)]],
                          StrictType(False)] = (640, 384)  # model input: width, height
    min_confidence: Annotated[float, Field(gt=0, lt=1)] = 0.3
    # Zoomed crops around small moving regions (README "Small people"): at most this many per
    # frame (0: off), each at tile_size x tile_size model input.
    tiles_per_frame: Annotated[int, Field(ge=0, le=16)] = 3
    tile_size: Annotated[int, Field(ge=96, le=960, multiple_of=32)] = 320
    motion_gating: bool = True
    motion_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.002  # of the frame that changed
    idle_detect_seconds: Annotated[float, Field(gt=0)] = 10.0  # detect now and then regardless
    track_lost_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0
    # Boxes grow by this many detector strides a side for matching: a small person's box
    # jitters by about a stride (README "Tracking small people"); 0 where big people cross.
    track_margin_strides: Annotated[float, Field(ge=0, le=8)] = 2.0
    exit_grace_seconds: Annotated[float, Field(ge=0, le=60)] = 3.0
    school_hours: TimeWindow = (dt.time(6, 30), dt.time(18, 30))  # on school days
    circling_passes: Annotated[int, Field(ge=2)] = 3  # one plate on K passes within T minutes
    circling_minutes: Annotated[float, Field(gt=0)] = 15.0
    pass_gap_seconds: Annotated[float, Field(gt=0)] = 60.0  # reads closer than this: one pass
    alert_update_seconds: Annotated[float, Field(gt=0)] = 30.0
    nice: Annotated[int, Field(ge=0, le=19)] = 10

    _window = field_validator("school_hours", mode="before")(_parse_window)


class CameraConfig(Strict):
    id: Identifier
    source: str | int
    role: Literal["gate", "vehicle", "perimeter", "inside"]
    zone: str = ""
    restricted: bool = False
    # x, y, width, height in pixels
    roi: Annotated[tuple[int, int, int, int], StrictType(False)] | None = None
    max_fps: Annotated[float, Field(gt=0, le=60)] = 10.0
    loop: bool = False  # a video file as source starts again at its end (else: source ended)
    zones: list[ZoneConfig] = []  # role = "perimeter": see README "Perimeter cameras"

    @model_validator(mode="after")
    def _zones_unique(self) -> CameraConfig:
        _unique("zones", [z.id for z in self.zones])
        return self


class FireAlarmConfig(Strict):
    """The fire-alarm dry contact; ``none`` only where the hardware releases on its own.

    ``serial-io``: the contact between DTR and a modem-status input (``line``) of a serial
    port; ``gpio``: a sysfs GPIO value file; ``simulated``: a file holding 1 (alarm) or 0.
    """

    kind: Literal["none", "serial-io", "gpio", "simulated"] = "none"
    port: str | None = None
    line: Literal["cts", "dsr", "cd", "ri"] = "dsr"
    gpio_line: Annotated[int, Field(ge=0)] = 0
    path: LaxPath | None = None
    active: Literal["closed", "open"] = "closed"
    poll_ms: Annotated[int, Field(ge=10, le=2000)] = 100
    on_input_lost: Literal["release", "hold"] = "release"  # what lanes do if unreadable

    @model_validator(mode="after")
    def _source_given(self) -> FireAlarmConfig:
        if self.kind == "serial-io" and not self.port:
            raise ValueError("a serial-io fire input needs a port")
        if self.kind == "simulated" and not self.path:
            raise ValueError("a simulated fire input needs a path")
        return self


class MqttConfig(Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    root: TopicSegment = "campus"
    username: str | None = None
    password_file: LaxPath | None = None
    client_id: str | None = None
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30
    tls: bool = False
    ca_file: LaxPath | None = None
    cert_file: LaxPath | None = None
    key_file: LaxPath | None = None
    snapshot: Literal["none", "link", "inline"] = "link"
    snapshot_max_bytes: Annotated[int, Field(ge=1024, le=1_000_000)] = 60_000
    outbox_max_messages: Annotated[int, Field(ge=100)] = 200_000
    outbox_warn_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.8

    @model_validator(mode="after")
    def _client_cert_pair(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class ConsoleConfig(Strict):
    enabled: bool = True
    bind: str = "127.0.0.1:8080"
    tls_cert: LaxPath | None = None  # serve HTTPS (needed off the gate computer itself)
    tls_key: LaxPath | None = None
    language: Literal["zh-CN", "en"] = "zh-CN"
    session_idle_minutes: Annotated[int, Field(ge=1, le=240)] = 15
    session_absolute_hours: Annotated[int, Field(ge=1, le=24)] = 8
    alert_escalate_minutes: Annotated[int, Field(ge=1, le=120)] = 5
    metrics_token: str | None = None  # bearer token for /metrics (Prometheus); unset: no /metrics
    school_name: str = ""  # printed on visitor passes; empty: the site id

    @field_validator("bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


class RetentionConfig(Strict):
    """How long each kind of data is kept, in days (biometrics of minors: keep it short)."""

    events_days: Annotated[int, Field(ge=1)] = 365
    alerts_days: Annotated[int, Field(ge=1)] = 365
    snapshots_days: Annotated[int, Field(ge=1)] = 30
    visitors_days: Annotated[int, Field(ge=1)] = 90
    audit_days: Annotated[int, Field(ge=1)] = 730
    keep_enrolment_photos: bool = False
    # Face encodings of people no longer active (left the school) go this long after.
    encodings_days: Annotated[int, Field(ge=1)] = 30
    visitor_photos_days: Annotated[int, Field(ge=1)] = 30  # desk photos (visitors.keep_photo)


class EvidenceConfig(Strict):
    """Snapshots of what decided a passage or raised an alert (README "Privacy and evidence")."""

    enabled: bool = True
    jpeg_quality: Annotated[int, Field(ge=20, le=95)] = 70
    max_width: Annotated[int, Field(ge=160, le=1920)] = 640  # the scene is downscaled to this
    max_bytes: Annotated[int, Field(ge=4096, le=2_000_000)] = 120_000  # per JPEG, after that
    crop_max_width: Annotated[int, Field(ge=48, le=640)] = 200  # face or plate crop


class PrivacyConfig(Strict):
    """Encryption at rest of biometrics and identity numbers (AES-256-GCM)."""

    # A key file (mode 0600, ``gate keys init``); $CREDENTIALS_DIRECTORY/biometric-key
    # (systemd LoadCredentialEncrypted=) is used instead when present.
    key_file: LaxPath | None = None


class FacesConfig(Strict):
    """Face matching thresholds; see README "Tuning face thresholds"."""

    identify_threshold: Annotated[float, Field(gt=0, lt=1.5)] = 0.53  # for up to 10 people
    identify_threshold_per_decade: Annotated[float, Field(ge=0, lt=0.5)] = 0.05
    identify_margin: Annotated[float, Field(ge=0, lt=1)] = 0.04
    enrol_jitters: Annotated[int, Field(ge=1, le=100)] = 5
    # A still photo to identify (``gate faces identify``, the probes of ``gate faces evaluate``)
    # is encoded over this many small shifts too; a live camera averages a face track's frames.
    photo_jitters: Annotated[int, Field(ge=1, le=100)] = 5
    verify_threshold: Annotated[float, Field(gt=0, lt=1.5)] = 0.55
    watchlist_threshold: Annotated[float, Field(gt=0, lt=1.5)] = 0.5
    duplicate_warning: Annotated[float, Field(gt=0, lt=1.5)] = 0.35
    min_face_px: Annotated[int, Field(ge=20, le=1000)] = 60
    min_sharpness: Annotated[float, Field(ge=0)] = 15.0
    detect_scale: Annotated[float, Field(gt=0.05, le=1)] = 0.4
    # With no face tracked and nothing moving, a lane camera runs the face detector only this
    # often (recognition/motion.py DetectionGate); 0: on every frame.
    idle_detect_seconds: Annotated[float, Field(ge=0, le=10)] = 1.0
    workers: Annotated[int, Field(ge=1, le=16)] = 1
    # Photos from outside (console enrolment, visitor desk, watch lists, roster import) are
    # decoded and encoded in this many supervised photo worker processes (README "Faces").
    photo_workers: Annotated[int, Field(ge=1, le=8)] = 1
    photo_timeout_s: Annotated[float, Field(ge=1, le=600)] = 30.0  # one photo, once it runs
    photo_max_bytes: Annotated[int, Field(ge=10_000, le=50_000_000)] = 6_000_000
    # A face is live when its fused liveness score (0..1) is >= this; README "Liveness".
    liveness_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    liveness_frames: Annotated[int, Field(ge=1, le=30)] = 3


class RulesConfig(Strict):
    """How the engine decides; see README "Gate rules"."""

    face_check: bool = True  # verify the card holder's face (only where consent is recorded)
    face_window_s: Annotated[float, Field(gt=0, le=30)] = 3.0
    face_wait_ms: Annotated[int, Field(ge=0, le=5000)] = 800
    mismatch_action: Literal["deny", "warn"] = "deny"
    staff_face_only: bool = False
    early_departure_action: Literal["deny", "alert"] = "deny"
    anti_passback: Literal["off", "warn", "deny"] = "warn"
    tailgate_window_s: Annotated[float, Field(gt=0, le=30)] = 4.0
    notify_absent: bool = True


class PlatesConfig(Strict):
    region: Literal["cn", "generic"] = "cn"
    fast_accept: Annotated[float, Field(ge=0, le=1)] = 0.85  # below: the surer detector path
    fallback_interval_s: Annotated[float, Field(ge=0, le=60)] = 1.0  # live cameras only
    # cn only: the province assumed when a read lost its province character (README "Licence
    # plates"); unset, such a read is no read
    home_province: str | None = None

    @field_validator("home_province")
    @classmethod
    def _one_province(cls, value: str | None) -> str | None:
        return None if value is None else province(value)


class DeskReaderConfig(Strict):
    """The visitor desk's resident ID-card reader (SAM command set, rfid/idcard.py)."""

    port: Annotated[str, Field(min_length=1)]
    baud: Baud = 115200  # most desk readers; some older ones run at 9600
    poll_ms: Annotated[int, Field(ge=100, le=5000)] = 500  # how often it asks for a card


class VisitorsConfig(Strict):
    default_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 120
    notify_police: bool = True  # every registration raises visitor_registered to the police
    police_full_id: bool = False  # police payloads carry the unmasked identity number
    remote_screening_url: str | None = None  # a police screening service (HTTP POST, JSON)
    remote_timeout_s: Annotated[float, Field(gt=0, le=30)] = 3.0
    keep_photo: bool = False  # keep the visitor's photo (for the retention period)
    desk_reader: DeskReaderConfig | None = None  # none: the desk types the document in


class Config(Strict):
    site: TopicSegment = "demo"
    gate: TopicSegment = "main"
    timezone: str = "Asia/Shanghai"
    data_dir: LaxPath = DEFAULT_DATA_DIR
    calendar: CalendarConfig = CalendarConfig()
    retention: RetentionConfig = RetentionConfig()
    evidence: EvidenceConfig = EvidenceConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    faces: FacesConfig = FacesConfig()
    rules: RulesConfig = RulesConfig()
    plates: PlatesConfig = PlatesConfig()
    visitors: VisitorsConfig = VisitorsConfig()
    mqtt: MqttConfig = MqttConfig()
    console: ConsoleConfig = ConsoleConfig()
    fire_alarm: FireAlarmConfig = FireAlarmConfig()
    perimeter: PerimeterConfig = PerimeterConfig()
    cameras: list[CameraConfig] = []
    lanes: list[LaneConfig] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        _unique("cameras", [c.id for c in self.cameras])
        _unique("lanes", [lane.id for lane in self.lanes])
        _unique("readers", [r.id for lane in self.lanes for r in lane.readers])
        cameras = {c.id: c for c in self.cameras}
        for i, lane in enumerate(self.lanes):
            for key, wanted in (("camera", "gate"), ("vehicle_camera", "vehicle")):
                ref = getattr(lane, key)
                if ref is None:
                    continue
                if ref not in cameras:
                    raise ValueError(f"lanes[{i}].{key}: no camera with id {ref!r}")
                if cameras[ref].role != wanted:
                    raise ValueError(f"lanes[{i}].{key}: camera {ref!r} has role "
                                     f"{cameras[ref].role!r}, expected {wanted!r}")
            if lane.liveness != "off" and lane.camera is None:
                raise ValueError(f"lanes[{i}].liveness: {lane.liveness!r} needs a lane camera")
        self._serial_ports_exclusive()
        return self

    def _serial_ports_exclusive(self) -> None:
        """A serial port belongs to one device; only one relay board may drive several lanes."""
        users: dict[str, list[str]] = {}
        relay_channels: Counter[tuple[str, int]] = Counter()
        for i, lane in enumerate(self.lanes):
            for j, reader in enumerate(lane.readers):
                users.setdefault(reader.port, []).append(f"lanes[{i}].readers[{j}]")
            if lane.relay.kind == "lcus" and lane.relay.port:
                users.setdefault(lane.relay.port, []).append("relay")
                relay_channels[(lane.relay.port, lane.relay.channel)] += 1
        if self.fire_alarm.kind == "serial-io" and self.fire_alarm.port:
            users.setdefault(self.fire_alarm.port, []).append("fire_alarm")
        if self.visitors.desk_reader is not None:
            users.setdefault(self.visitors.desk_reader.port, []).append("visitors.desk_reader")
        for port, owners in users.items():
            devices = [o for o in owners if o != "relay"]
            if len(devices) > 1 or (devices and "relay" in owners):
                raise ValueError(f"serial port {port} is used by more than one device: "
                                 + ", ".join(owners))
        for (port, channel), count in relay_channels.items():
            if count > 1:
                raise ValueError(f"relay channel {channel} on {port} drives more than one lane")


def _unique(what: str, ids: list[str]) -> None:
    dupes = sorted(k for k, n in Counter(ids).items() if n > 1)
    if dupes:
        raise ValueError(f"{what}: duplicate id {', '.join(dupes)}")


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not out:
            out = part
        else:
            out += f".{part}"
    return out or "(top level)"


def _describe(err: Any) -> str:
    msg: str = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"must be one of {expected}"
    msg = msg.removeprefix("Value error, ")
    return f"{_key_path(err['loc'])}: {msg}"


def parse_config(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e) for e in exc.errors())) from None


def load_config(path: Path) -> Config:
    """Read and validate a TOML file; raises ConfigError naming the bad key."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError("\n".join(f"{path}: {line}" for line in str(exc).splitlines())) from None


def resolve_config(path: Path | None) -> Config:
    """The ``--config`` rule: an explicit path must load; else the system file; else defaults."""
    if path is not None:
        return load_config(path)
    if DEFAULT_CONFIG_PATH.exists():
        return load_config(DEFAULT_CONFIG_PATH)
    return Config()
