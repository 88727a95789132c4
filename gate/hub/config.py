"""``hub.toml``: typed, validated district hub settings (example: config/hub.example.toml)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gate.config import ConfigError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmqpSettings(Strict):
    # Several URLs = several cluster nodes: the consumer moves to the next one when a node fails.
    urls: list[str] = Field(default_factory=lambda: ["amqp://hub:hub@127.0.0.1:5672/%2F"],
                            min_length=1)
    password_file: Path | None = None   # replaces the password in every URL when set
    exchange: str = "amq.topic"         # where RabbitMQ's MQTT plugin publishes
    queue: str = "hub.ingest"           # durable quorum queue shared by every hub consumer
    prefetch: int = Field(default=1000, ge=1, le=65535)
    batch: int = Field(default=500, ge=1)       # rows per PostgreSQL transaction at most
    batch_ms: int = Field(default=50, ge=1)     # wait at most this long to fill a batch
    heartbeat_s: int = Field(default=10, ge=0)


class PostgresSettings(Strict):
    dsn: str = "postgresql://hub@127.0.0.1:5432/hub"
    password_file: Path | None = None


class MqttSettings(Strict):
    """How the district page and the simulator reach the cluster's MQTT plugin."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = None


class ServeSettings(Strict):
    bind: str = "127.0.0.1:8090"
    ack_minutes: int = Field(default=10, ge=1)   # "acknowledged in time" for closed-loop figures


class SharingSettings(Strict):
    """Watch lists across districts (一地布控、两域双查), carried by RabbitMQ shovels."""

    # Districts whose shared watch lists this hub accepts and to which it reports hits on them.
    neighbours: list[str] = Field(default_factory=list)


DEVICE_CODE = r"^\d{20}$"


class ViidSettings(Strict):
    """GA/T 1400 gateway (``gate hub viid``) towards the police station's upper platform."""

    upper_url: str = "http://127.0.0.1:8120"   # the upper platform's base URL (no /VIID)
    upper_id: str = Field(default="00000000000000000000", pattern=DEVICE_CODE)
    platform_id: str = Field(default="00000000000000000000", pattern=DEVICE_CODE)  # ours
    org_code: str = Field(default="000000000000", pattern=r"^\d{12}$")  # for 33-digit ids
    username: str = ""                       # Digest user; empty: platform_id
    password_file: Path | None = None        # Digest password (both directions)
    bind: str = "127.0.0.1:8121"             # where the upper platform sends dispositions
    keepalive_s: int = Field(default=30, ge=1)
    max_skew_s: float = Field(default=2.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    batch: int = Field(default=50, ge=1, le=1000)
    queue: str = "hub.viid"                  # its own quorum queue on the cluster
    # pupils' faces: "alerts" = only alerts and watch-list hits (default), "all" = also
    # ordinary passages, when the school's policy and the station's agreement say so
    pupils: Literal["alerts", "all"] = "alerts"
    watchlist: str = Field(default="viid", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    # "site/gate" -> 20-digit code the station assigned to that gate's cameras
    devices: dict[str, str] = Field(default_factory=dict)

    @field_validator("devices")
    @classmethod
    def _codes(cls, devices: dict[str, str]) -> dict[str, str]:
        import re

        for where, code in devices.items():
            if where.count("/") != 1 or not re.fullmatch(DEVICE_CODE, code):
                raise ValueError(f"{where!r}: keys are site/gate, codes 20 digits")
        if len(set(devices.values())) != len(devices):
            raise ValueError("two gates share a device code")
        return devices


class HubConfig(Strict):
    district: str = "district"
    root: str = "campus"                         # MQTT topic root, as the gates' [mqtt] root
    timezone: str = "Asia/Shanghai"
    amqp: AmqpSettings = Field(default_factory=AmqpSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    sharing: SharingSettings = Field(default_factory=SharingSettings)
    viid: ViidSettings = Field(default_factory=ViidSettings)


def read_secret(path: Path | None) -> str | None:
    """A secret from a file (or a systemd credential of that name), stripped of the newline."""
    if path is None:
        return None
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    # systemd's LoadCredential= copy wins: the original is then readable by root only
    if creds and (Path(creds) / path.name).exists():
        path = Path(creds) / path.name
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def parse_hub_config(data: dict[str, Any]) -> HubConfig:
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())) from None


def load_hub_config(path: Path) -> HubConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_hub_config(data)
    except ConfigError as exc:
        raise ConfigError("\n".join(f"{path}: {line}" for line in str(exc).splitlines())) from None


def dump_toml(config: HubConfig) -> str:
    """hub.toml text for a configuration (strings, numbers, booleans, lists, one table level)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    def table(name: str, items: dict[str, Any]) -> list[str]:
        plain = "".join(f"{json.dumps(k) if '/' in k else k} = {value(x)}\n"
                        for k, x in items.items() if x is not None and not isinstance(x, dict))
        out = [f"[{name}]\n{plain}"]
        for k, x in items.items():
            if isinstance(x, dict):
                out += table(f"{name}.{k}", x)
        return out

    top, tables = [], []
    for key, v in config.model_dump(exclude_none=True).items():
        if isinstance(v, dict):
            tables += table(key, v)
        else:
            top.append(f"{key} = {value(v)}\n")
    return "".join(top) + "\n" + "\n".join(tables)
