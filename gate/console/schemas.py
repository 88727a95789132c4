"""Request bodies of the console API: strict (unknown fields refused) and bounded."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class AckBody(_Body):
    note: Annotated[str, Field(min_length=1, max_length=500)]


class OpenBody(_Body):
    # rules.manual_open wants 2 characters after trimming: "送药" is a complete reason
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class FireResetBody(_Body):
    note: Annotated[str, Field(min_length=2, max_length=500)]  # "复位" is a whole note


class ExitPermissionBody(_Body):
    minutes: Annotated[int, Field(ge=5, le=600)] = 60
    reason: Annotated[str, Field(min_length=2, max_length=200)]


class PlateBody(_Body):
    plate: Annotated[str, Field(min_length=2, max_length=16)]
    # required, checked after trimming (gate/console/routers/vehicles.py): "  " is no reason
    reason: Annotated[str, Field(max_length=200)] = ""


class VisitorBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    id_type: Annotated[str, Field(pattern="^(resident-id|passport|hk-macau-permit|taiwan-permit)$")]
    id_number: Annotated[str, Field(min_length=4, max_length=32)]
    phone: Annotated[str, Field(max_length=32)] = ""
    purpose: Annotated[str, Field(min_length=1, max_length=200)]
    host_id: Annotated[str, Field(min_length=1, max_length=64)]
    minutes: Annotated[int | None, Field(ge=5, le=1440)] = None  # None: visitors.default_minutes
    plate: Annotated[str | None, Field(max_length=16)] = None
    # base64 JPEG/PNG; the page resizes a phone photo (3-5 MB) to about 1280 px first
    photo: Annotated[str | None, Field(max_length=8_000_000)] = None
    # a card read at the desk's ID-card reader (GET /api/desk/idcard): name and number are
    # then the chip's, and the visit is marked read from chip
    chip_token: Annotated[str | None, Field(max_length=64)] = None


class GuardDecisionBody(_Body):
    admit: bool
    note: Annotated[str, Field(min_length=2, max_length=500)]


class HostDecisionBody(_Body):
    approve: bool
    method: Annotated[str, Field(pattern="^(console|phone)$")] = "console"
    note: Annotated[str, Field(max_length=500)] = ""  # required when a guard records a call


class CardBody(_Body):
    card: Annotated[str, Field(min_length=3, max_length=40)]


class VehicleBody(_Body):
    plate: Annotated[str, Field(min_length=2, max_length=16)]
    kind: Annotated[str, Field(pattern="^(staff|parent|delivery|other)$")] = "staff"
    owner_id: Annotated[str | None, Field(max_length=64)] = None
    days: Annotated[int | None, Field(ge=1, le=3650)] = None  # valid for this many days
    note: Annotated[str, Field(max_length=200)] = ""
    replace: bool = False  # the plate is registered already: the admin confirmed replacing


class UserBody(_Body):
    username: Annotated[str, Field(min_length=2, max_length=32)]
    password: Annotated[str, Field(min_length=10, max_length=256)]
    role: Annotated[str, Field(pattern="^(guard|admin|host)$")]
    person_id: Annotated[str | None, Field(max_length=64)] = None  # a host's staff record


class AckManyBody(_Body):
    """A group of repeats of one cause, acknowledged together with one note."""

    ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1,
                                                                     max_length=500)]
    note: Annotated[str, Field(min_length=1, max_length=500)]


class BulkAckBody(_Body):
    """Every open alert up to this severity (never a critical one), with one note."""

    max_severity: Annotated[str, Field(pattern="^(info|warning)$")] = "warning"
    note: Annotated[str, Field(min_length=1, max_length=500)]


class WatchPersonBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    id_type: Annotated[str, Field(pattern="^(resident-id|passport|hk-macau-permit|taiwan-permit)$")
                       ] = "resident-id"
    id_number: Annotated[str, Field(max_length=32)] = ""
    reason: Annotated[str, Field(max_length=200)] = ""  # required, checked after trimming


class FaceBody(_Body):
    photo: Annotated[str, Field(min_length=8, max_length=8_000_000)]  # base64 JPEG/PNG
    consent: bool  # the guardian's signed consent is on file
    replace: bool = False  # remove the stored faces first
    # an admin's written reason to enrol a face that matches another enrolled person (audited)
    confirm_reason: Annotated[str, Field(max_length=500)] = ""


class MapImageBody(_Body):
    image: Annotated[str, Field(min_length=8, max_length=8_000_000)]  # base64 JPEG/PNG


class MapPointBody(_Body):
    x: Annotated[float, Field(ge=0, le=1)]
    y: Annotated[float, Field(ge=0, le=1)]


class EraseBody(_Body):
    reason: Annotated[str, Field(min_length=2, max_length=300)]
