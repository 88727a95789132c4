"""The standard's identifiers and time format, as pure functions.

GA/T 1400 builds every id from fixed-width parts, so a receiving platform can read where and
when an object was captured from its id alone:

- a device (or platform) code: 20 digits (administrative area, trade, type, serial);
- an image id (``SourceID``, ``ImageID``): 41 = device 20 + type 2 (``02`` image)
  + shot time 14 (``YYYYMMDDhhmmss``) + sequence 5;
- an object id (``FaceID``, ``MotorVehicleID``): 48 = the image id it was found in
  + object type 2 (``06`` face, ``02`` motor vehicle) + sequence 5;
- a business object id (``NotificationID``, ``DispositionID``): 33 = organisation code 12
  + sub-type 2 + time 14 + sequence 5.

Times are local times of the site (Asia/Shanghai) without an offset, ``YYYYMMDDhhmmss``.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

DEVICE_CODE = re.compile(r"^\d{20}$")
ORG_CODE = re.compile(r"^\d{12}$")
TIME_FORMAT = "%Y%m%d%H%M%S"

IMAGE_TYPE = "02"            # of the 41-digit image id: 01 video, 02 image, 03 file
FACE_TYPE = "06"             # of the 48-digit object id
MOTOR_VEHICLE_TYPE = "02"
NOTIFICATION_SUBTYPE = "03"  # of the 33-digit business id (ours: a disposition notification)


def check_device_code(code: str) -> str:
    if not DEVICE_CODE.match(code):
        raise ValueError(f"device code {code!r} is not 20 digits")
    return code


def viid_time(moment: dt.datetime, tz: str) -> str:
    """``YYYYMMDDhhmmss`` in the site's time zone; ``moment`` must carry an offset."""
    if moment.tzinfo is None:
        raise ValueError("a time without an offset cannot be placed in the site's zone")
    return moment.astimezone(ZoneInfo(tz)).strftime(TIME_FORMAT)


def parse_viid_time(text: str, tz: str) -> dt.datetime:
    if not re.fullmatch(r"\d{14}", text):
        raise ValueError(f"time {text!r} is not YYYYMMDDhhmmss")
    return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=ZoneInfo(tz))


def image_id(device: str, shot: str, seq: int) -> str:
    """41 characters: the image an object was found in."""
    out = f"{check_device_code(device)}{IMAGE_TYPE}{shot}{seq % 100_000:05d}"
    if len(out) != 41:
        raise ValueError(f"shot time {shot!r} is not 14 digits")
    return out


def object_id(source_id: str, type_code: str, seq: int) -> str:
    """48 characters: an object (face, motor vehicle) inside image ``source_id``."""
    if len(source_id) != 41 or len(type_code) != 2:
        raise ValueError("an object id needs a 41-character image id and a 2-digit type")
    return f"{source_id}{type_code}{seq % 100_000:05d}"


def business_id(org: str, subtype: str, when: str, seq: int) -> str:
    """33 characters: a notification or disposition."""
    if not ORG_CODE.match(org) or len(subtype) != 2 or len(when) != 14:
        raise ValueError("a business id needs a 12-digit organisation code")
    return f"{org}{subtype}{when}{seq % 100_000:05d}"
