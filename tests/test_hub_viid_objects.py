"""GA/T 1400 pure parts: ids, object builders against the schema (and the public examples),
server-side Digest, which gate messages go up, and dispositions -> a watch list."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gate.config import ConfigError
from gate.hub.config import parse_hub_config
from gate.hub.viid import digest, dispositions, ids, mapping, objects, schemas
from gate.watchlist import parse_payload

FIXTURES = Path(__file__).parent / "fixtures" / "viid"
DEVICE = "34010000001190000001"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def jpeg(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(out, "JPEG")
    return out.getvalue()


# ids ---------------------------------------------------------------------------------------

def test_ids_have_the_standards_lengths_and_parts() -> None:
    shot = ids.viid_time(dt.datetime(2026, 3, 2, 23, 59, 58, tzinfo=dt.UTC), "Asia/Shanghai")
    assert shot == "20260303075958"                  # the site's local time, no offset
    image = ids.image_id(DEVICE, shot, 123_456)
    assert image == DEVICE + "02" + shot + "23456" and len(image) == 41
    face = ids.object_id(image, ids.FACE_TYPE, 7)
    assert len(face) == 48 and face.startswith(image) and face[41:43] == "06"
    assert len(ids.business_id("340100000000", "03", shot, 1)) == 33
    assert ids.parse_viid_time(shot, "Asia/Shanghai") == dt.datetime(
        2026, 3, 3, 7, 59, 58, tzinfo=SHANGHAI)


@pytest.mark.parametrize("bad", ["3401", "3401000000119000000X", "340100000011900000012"])
def test_a_device_code_is_exactly_20_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="20 digits"):
        ids.image_id(bad, "20260303075958", 1)


def test_a_time_without_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        ids.viid_time(dt.datetime(2026, 3, 3, 7, 0), "Asia/Shanghai")


# objects against the schema -----------------------------------------------------------------

def built_face(images: list[objects.Jpeg] | None = None) -> dict[str, Any]:
    shot = "20260303075958"
    src = ids.image_id(DEVICE, shot, 1)
    return objects.face(face_id=ids.object_id(src, ids.FACE_TYPE, 1), source_id=src,
                        device=DEVICE, shot=shot,
                        images=images if images is not None else [
                            objects.Jpeg(jpeg(), objects.IMAGE_FACE)])


def built_vehicle() -> dict[str, Any]:
    shot = "20260303075958"
    src = ids.image_id(DEVICE, shot, 2)
    return objects.motor_vehicle(vehicle_id=ids.object_id(src, ids.MOTOR_VEHICLE_TYPE, 2),
                                 source_id=src, device=DEVICE, shot=shot, plate="京A12345",
                                 images=[objects.Jpeg(jpeg(), objects.IMAGE_PLATE_SMALL)])


def test_every_built_object_is_valid_against_its_schema() -> None:
    face, vehicle = built_face(), built_vehicle()
    note = objects.disposition_notification(
        notification_id=ids.business_id("340100000000", "03", "20260303080000", 9),
        disposition_id=ids.business_id("340100000000", "01", "20260301080000", 1),
        title="车辆布控", trigger="20260303075958", object_id=vehicle["MotorVehicleID"],
        vehicle_obj=vehicle)
    cases = {
        "FaceList": objects.list_body("face", [face]),
        "MotorVehicleList": objects.list_body("vehicle", [vehicle]),
        "DispositionNotificationList": objects.list_body("notification", [note]),
        "Register": objects.register(DEVICE), "Keepalive": objects.keepalive(DEVICE),
        "UnRegister": objects.unregister(DEVICE),
        "ResponseStatusList": objects.response_status_list([objects.response_status(
            "/VIID/Faces", 0, face["FaceID"], "20260303080000")]),
        "ResponseStatusMessage": objects.response_status_object(
            "/VIID/System/Register", 0, DEVICE, "20260303080000"),
        "SystemTimeMessage": objects.system_time(DEVICE, "20260303080000", "Asia/Shanghai"),
    }
    for type_name, body in cases.items():
        assert schemas.errors(type_name, body) == [], type_name
    image = face["SubImageList"]["SubImageInfoObject"][0]
    assert (image["Width"], image["Height"], image["Type"]) == (40, 30, "11")
    assert image["ImageID"] == face["SourceID"]


def test_the_schema_catches_lengths_names_and_formats() -> None:
    vehicle = built_vehicle()
    assert schemas.errors("MotorVehicle", {**vehicle, "PlateNo": "京A123456789012345"})
    assert schemas.errors("MotorVehicle", {**vehicle, "PlateNumber": "京A12345"})
    assert schemas.errors("Face", {**built_face(), "FaceAppearTime": "2026-03-03 07:59:58"})
    assert schemas.errors("Face", {**built_face(), "FaceID": "1" * 47})


def test_public_examples_are_valid_but_for_their_one_named_deviation() -> None:
    """The examples of public device documentation (tests/fixtures/viid/SOURCES.md)."""
    face = json.loads((FIXTURES / "face_public.json").read_text())
    assert schemas.errors("FaceList", face) == [
        "/FaceListObject/FaceObject/0: Additional properties are not allowed"
        " ('m_dSimilaritydegree' was unexpected)"]
    obj = face["FaceListObject"]["FaceObject"][0]
    obj["Similaritydegree"] = obj.pop("m_dSimilaritydegree")
    assert schemas.errors("FaceList", face) == []

    vehicle = json.loads((FIXTURES / "motor_vehicle_public.json").read_text())
    errors = schemas.errors("MotorVehicleList", vehicle)
    assert len(errors) == 1 and "TollgateID" in errors[0]
    vehicle["MotorVehicleListObject"]["MotorVehicleObject"][0]["TollgateID"] = "3" * 20
    assert schemas.errors("MotorVehicleList", vehicle) == []


def test_a_non_jpeg_image_is_refused() -> None:
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    with pytest.raises(ValueError, match="not JPEG"):
        built_face([objects.Jpeg(png.getvalue(), objects.IMAGE_FACE)])


def test_statuses_of_takes_nothing_for_granted() -> None:
    assert objects.statuses_of({"unexpected": 1}) == {}
    assert objects.statuses_of(objects.response_status_list([
        objects.response_status("/x", 0, "a", "20260303080000"),
        objects.response_status("/x", 8, "b", "20260303080000")])) == {"a": 0, "b": 8}


# Digest, server side --------------------------------------------------------------------------

def test_md5_response_matches_rfc_7616_example() -> None:
    """RFC 7616 section 3.9.1, the MD5 variant."""
    assert digest.expected_response(
        username="Mufasa", realm="http-auth@example.org", password="Circle of Life",
        method="GET", uri="/dir/index.html",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ") \
        == "8ca523f5e9506fed4657c9700eebdbec"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def authorization(verifier: digest.DigestVerifier, password: str, nc: int = 1,
                  nonce: str | None = None, uri: str = "/VIID/System/Register") -> str:
    nonce = nonce or digest.parse_header(verifier.challenge())["nonce"]
    ncs = f"{nc:08x}"
    resp = digest.expected_response(username="u", realm="VIID", password=password,
                                    method="POST", uri=uri, nonce=nonce, nc=ncs, cnonce="c1")
    return (f'Digest username="u", realm="VIID", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}", qop=auth, nc={ncs}, cnonce="c1", algorithm=MD5')


def test_verifier_accepts_right_refuses_wrong_replayed_expired_and_foreign() -> None:
    clock = FakeClock()
    v = digest.DigestVerifier("VIID", {"u": "pw"}, clock, ttl_s=60)
    nonce = digest.parse_header(v.challenge())["nonce"]
    assert v.check("POST", "/VIID/System/Register", authorization(v, "pw", 1, nonce)) \
        == ("u", False)
    assert v.check("POST", "/VIID/System/Register", authorization(v, "pw", 1, nonce)) \
        == (None, False)                                  # the same nc again: a replay
    assert v.check("POST", "/VIID/System/Register", authorization(v, "pw", 2, nonce)) \
        == ("u", False)
    assert v.check("POST", "/VIID/System/Register", authorization(v, "wrong")) == (None, False)
    assert v.check("POST", "/VIID/Faces", authorization(v, "pw")) == (None, False)  # uri
    clock.t += 61
    assert v.check("POST", "/VIID/System/Register", authorization(v, "pw", 3, nonce)) \
        == (None, True)                                   # expired: stale, not wrong
    restarted = digest.DigestVerifier("VIID", {"u": "pw"}, clock, ttl_s=60)
    fresh = digest.parse_header(v.challenge())["nonce"]
    assert restarted.check("POST", "/VIID/System/Register",
                           authorization(v, "pw", 1, fresh)) == (None, False)
    assert 'stale=true' in v.challenge(stale=True) and 'qop="auth"' in v.challenge()


# what goes up --------------------------------------------------------------------------------

def message(kind: str, mtype: str, **fields: Any) -> dict[str, Any]:
    return {"schema": f"campus-gate/{kind}/1", "id": "m1", "ts": "2026-03-03T07:41:02+08:00",
            "site": "zqxx", "gate": "main", "type": mtype, "severity": "info", **fields}


def ups(kind: str, payload: dict[str, Any], pupils: str = "alerts") -> list[mapping.Capture]:
    return mapping.captures(kind, "zqxx", "main", payload, pupils=pupils, watchlist="viid")


def test_pupils_ordinary_arrivals_never_go_up_by_default() -> None:
    pupil = message("event", "arrival", method="card+face",
                    person={"id": "S1", "role": "student"})
    assert ups("event", pupil) == []
    assert [c.kind for c in ups("event", pupil, pupils="all")] == ["face"]
    staff = message("event", "arrival", method="card+face", person={"id": "T1", "role": "staff"})
    assert [c.kind for c in ups("event", staff)] == ["face"]
    assert ups("event", message("event", "arrival", method="card",
                                person={"id": "T1", "role": "staff"})) == []


def test_a_pupils_face_alert_goes_up_with_its_crop() -> None:
    import base64

    alert = message("alert", "card_face_mismatch", person={"id": "S1", "role": "student"},
                    snapshot_jpeg=base64.b64encode(jpeg()).decode())
    (cap,) = ups("alert", alert)
    assert cap.kind == "face" and cap.images[0].type_code == "11" and cap.hit is None


def test_plate_alerts_go_up_and_only_exact_hits_on_our_list_are_hits() -> None:
    exact = message("alert", "watchlist_plate", plate="京A12345", match="exact", list="viid")
    (cap,) = ups("alert", exact)
    assert cap.kind == "vehicle" and cap.hit == mapping.Hit(plate="京A12345")
    (near,) = ups("alert", {**exact, "match": "possible"})
    assert near.hit is None
    (other,) = ups("alert", {**exact, "list": "police"})
    assert other.hit is None


def test_health_fire_and_visitor_messages_stay_at_the_district() -> None:
    for kind, mtype in (("alert", "device_offline"), ("alert", "fire_alarm"),
                        ("alert", "visitor_registered"), ("event", "absent"),
                        ("alert", "tailgating")):
        assert ups(kind, message(kind, mtype)) == [], mtype


# dispositions -> watch list -----------------------------------------------------------------

def disposition(**fields: Any) -> dict[str, Any]:
    return {"DispositionID": ids.business_id("340100000000", "01", "20260301080000", 1),
            "Title": "车辆布控", "DispositionCategory": "2", "PriorityLevel": 1,
            "ApplicantName": "x", "ApplicantOrg": "y", "BeginTime": "20260301080000",
            "EndTime": "20260401080000", "OperateType": 0, "Reason": "r", **fields}


def test_targets_are_read_from_what_the_disposition_carries() -> None:
    assert dispositions.target(disposition(TargetFeature="(1=京a12345)")).plate == "京A12345"
    assert dispositions.target(disposition(TargetFeature="PlateNo=沪C66666")).plate == "沪C66666"
    person = dispositions.target(disposition(
        TargetFeature="(IDNumber=11010519491231002x)",
        SubImageList={"SubImageInfoObject": [{"Data": "AAAA"}]}))
    assert (person.plate, person.id_number, person.photos) == (
        None, "11010519491231002X", ["AAAA"])
    with pytest.raises(dispositions.DispositionError):
        dispositions.target(disposition(TargetFeature="(3=BMW)"))
    assert schemas.errors("Disposition", disposition(TargetFeature="(1=京A12345)")) == []


def test_the_watch_list_of_dispositions_is_one_the_gates_accept() -> None:
    targets = [dispositions.target(disposition(TargetFeature="(1=京A12345)")),
               dispositions.target(disposition(
                   DispositionID=ids.business_id("340100000000", "01", "20260301080000", 2),
                   TargetFeature="(IDNumber=110105194912310021)"))]
    payload = dispositions.watchlist_payload("viid", "20260303080000.1", targets)
    parsed = parse_payload(json.dumps(payload).encode())
    assert [p.text for p in parsed.plates] == ["京A12345"]
    assert [p.id for p in parsed.persons] == [targets[1].disposition_id]


# configuration --------------------------------------------------------------------------------

def test_device_codes_are_checked_in_the_configuration() -> None:
    ok = parse_hub_config({"viid": {"devices": {"zqxx/main": DEVICE}}})
    assert ok.viid.devices == {"zqxx/main": DEVICE}
    for devices in ({"zqxx/main": "123"}, {"zqxx": DEVICE},
                    {"zqxx/main": DEVICE, "zqxx/east": DEVICE}):
        with pytest.raises(ConfigError):
            parse_hub_config({"viid": {"devices": devices}})


def test_the_commands_are_wired_and_check_their_arguments(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gate.cli import app

    runner = CliRunner()
    for command in ("viid", "viid-sim"):
        assert runner.invoke(app, ["hub", command, "--help"]).exit_code == 0
    secret = tmp_path / "pw"
    secret.write_text("pw\n")
    bad = runner.invoke(app, ["hub", "viid-sim", "--server-id", "123",
                              "--password-file", str(secret)])
    assert bad.exit_code == 2


def test_viid_settings_round_trip_through_hub_toml() -> None:
    import tomllib

    from gate.hub.config import dump_toml

    config = parse_hub_config({"viid": {"devices": {"zqxx/main": DEVICE},
                                        "password_file": "/etc/campus-gate/viid.pass",
                                        "pupils": "all"}})
    assert parse_hub_config(tomllib.loads(dump_toml(config))) == config
