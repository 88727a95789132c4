"""Builders of the standard's JSON objects (GA/T 1400.4 message bodies), pure: values in,
dicts out. Field names and lengths follow the field tables written down in
``schemas/viid.schema.json``; the tests validate every builder's output against it.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

CONTENT_TYPE = "application/VIID+JSON;charset=UTF-8"

# SubImageInfo.Type (image type code)
IMAGE_PLATE_SMALL = "02"     # licence plate, colour crop
IMAGE_VEHICLE_CLOSE = "09"   # vehicle close-up
IMAGE_FACE = "11"            # face crop
IMAGE_SCENE = "14"           # scene (the whole frame)

# EventSort of SubImageInfo: what kind of analysis produced the image. 2 is the value the
# public device documentation uses for face capture; vehicles use the same "capture" class.
EVENT_SORT_CAPTURE = 2


@dataclass(frozen=True)
class Jpeg:
    data: bytes
    type_code: str     # one of the IMAGE_* codes


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the JPEG header only; raises ValueError for what is not an image."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "JPEG":
                raise ValueError(f"image is {img.format}, not JPEG")
            return int(img.width), int(img.height)
    except OSError as exc:
        raise ValueError(f"not an image: {exc}") from None


def sub_image(image_id: str, device: str, shot: str, jpeg: Jpeg) -> dict[str, Any]:
    width, height = jpeg_size(jpeg.data)
    return {
        "ImageID": image_id, "EventSort": EVENT_SORT_CAPTURE, "DeviceID": device,
        "Type": jpeg.type_code, "FileFormat": "Jpeg", "ShotTime": shot,
        "Width": width, "Height": height, "FileSize": len(jpeg.data),
        "Data": base64.b64encode(jpeg.data).decode("ascii"),
    }


def sub_image_list(image_id: str, device: str, shot: str,
                   images: list[Jpeg]) -> dict[str, Any] | None:
    """Every image of one capture shares the capture's image id (the object's SourceID)."""
    if not images:
        return None
    return {"SubImageInfoObject": [sub_image(image_id, device, shot, j) for j in images]}


def face(*, face_id: str, source_id: str, device: str, shot: str,
         images: list[Jpeg]) -> dict[str, Any]:
    """A face captured at a gate: where (device), when, and its crop. InfoKind 1: found by
    the device automatically. Nothing identifying (name, ID number) is sent with a capture."""
    obj: dict[str, Any] = {
        "FaceID": face_id, "InfoKind": 1, "SourceID": source_id, "DeviceID": device,
        "LocationMarkTime": shot, "FaceAppearTime": shot, "FaceDisAppearTime": shot,
    }
    subs = sub_image_list(source_id, device, shot, images)
    if subs:
        obj["SubImageList"] = subs
    return obj


def motor_vehicle(*, vehicle_id: str, source_id: str, device: str, shot: str, plate: str,
                  images: list[Jpeg], tollgate: str | None = None) -> dict[str, Any]:
    """A plate read at a vehicle lane. ``HasPlate`` "1" and the plate as read; the colour and
    class of the plate are unknown to the gate ("99"/"99": other)."""
    obj: dict[str, Any] = {
        "MotorVehicleID": vehicle_id, "InfoKind": 1, "SourceID": source_id,
        "DeviceID": device, "StorageUrl1": "", "HasPlate": "1", "PlateClass": "99",
        "PlateColor": "99", "PlateNo": plate, "PassTime": shot,
    }
    if tollgate:
        obj["TollgateID"] = tollgate
    subs = sub_image_list(source_id, device, shot, images)
    if subs:
        obj["SubImageList"] = subs
    return obj


def disposition_notification(*, notification_id: str, disposition_id: str, title: str,
                             trigger: str, object_id: str,
                             face_obj: dict[str, Any] | None = None,
                             vehicle_obj: dict[str, Any] | None = None) -> dict[str, Any]:
    """A hit on a disposition (布控告警): which control, when, and the captured object with
    its images."""
    obj: dict[str, Any] = {"NotificationID": notification_id, "DispositionID": disposition_id,
                           "Title": title[:256], "TriggerTime": trigger, "CntObjectID": object_id}
    if face_obj is not None:
        obj["FaceObject"] = face_obj
    if vehicle_obj is not None:
        obj["MotorVehicleObject"] = vehicle_obj
    return obj


LIST_KEYS = {
    "face": ("FaceListObject", "FaceObject", "/VIID/Faces"),
    "vehicle": ("MotorVehicleListObject", "MotorVehicleObject", "/VIID/MotorVehicles"),
    "notification": ("DispositionNotificationListObject", "DispositionNotificationObject",
                     "/VIID/DispositionNotifications"),
}
ID_KEYS = {"face": "FaceID", "vehicle": "MotorVehicleID", "notification": "NotificationID"}


def list_body(kind: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    outer, inner, _path = LIST_KEYS[kind]
    return {outer: {inner: objects}}


def register(device: str) -> dict[str, Any]:
    return {"RegisterObject": {"DeviceID": device}}


def keepalive(device: str) -> dict[str, Any]:
    return {"KeepaliveObject": {"DeviceID": device}}


def unregister(device: str) -> dict[str, Any]:
    return {"UnRegisterObject": {"DeviceID": device}}


def response_status(url: str, code: int, obj_id: str, local_time: str,
                    text: str = "") -> dict[str, Any]:
    """One ResponseStatus: ``StatusCode`` 0 is OK; anything else names a failure."""
    return {"RequestURL": url, "StatusCode": code, "StatusString": text or
            ("OK" if code == 0 else "Error"), "Id": obj_id, "LocalTime": local_time}


def response_status_object(url: str, code: int, obj_id: str, local_time: str,
                           text: str = "") -> dict[str, Any]:
    return {"ResponseStatusObject": response_status(url, code, obj_id, local_time, text)}


def response_status_list(statuses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"ResponseStatusListObject": {"ResponseStatusObject": statuses}}


def system_time(server_id: str, local_time: str, tz: str) -> dict[str, Any]:
    return {"SystemTimeObject": {"VIIDServerID": server_id, "TimeMode": "1",
                                 "LocalTime": local_time, "TimeZone": tz}}


def statuses_of(body: Any) -> dict[str, int]:
    """Id → StatusCode of a ResponseStatusList (or a single ResponseStatus) answer; an
    answer of another shape yields nothing, so nothing is taken as delivered by mistake."""
    if not isinstance(body, dict):
        return {}
    if "ResponseStatusListObject" in body:
        items = (body["ResponseStatusListObject"] or {}).get("ResponseStatusObject", [])
    elif "ResponseStatusObject" in body:
        items = [body["ResponseStatusObject"]]
    else:
        return {}
    out: dict[str, int] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("Id"), str):
            try:
                out[item["Id"]] = int(item.get("StatusCode", -1))
            except (TypeError, ValueError):
                out[item["Id"]] = -1
    return out
