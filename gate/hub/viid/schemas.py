"""The JSON schema of every object type (``schemas/viid.schema.json``), one validator each.

The simulator validates what it receives with these, so every test that sends something up
also checks it against the field tables.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

TYPES = ("Face", "MotorVehicle", "SubImageInfo", "Disposition", "DispositionNotification",
         "Subscribe", "RegisterObject", "KeepaliveObject", "UnRegisterObject", "ResponseStatus",
         "SystemTime", "FaceList", "MotorVehicleList", "DispositionList",
         "DispositionNotificationList", "SubscribeList", "ResponseStatusList", "Register",
         "Keepalive", "UnRegister", "ResponseStatusMessage", "SystemTimeMessage")


@cache
def document() -> dict[str, Any]:
    text = resources.files("gate.hub.viid").joinpath("schemas/viid.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def _validator(type_name: str) -> Any:
    if type_name not in document()["$defs"]:
        raise KeyError(type_name)
    return jsonschema_rs.Draft202012Validator({**document(), "$ref": f"#/$defs/{type_name}"})


def errors(type_name: str, instance: Any) -> list[str]:
    """``path: message`` of each way ``instance`` breaks the type's schema (empty: valid)."""
    return [f"/{'/'.join(str(p) for p in e.instance_path)}: {e.message}"
            for e in _validator(type_name).iter_errors(instance)]
