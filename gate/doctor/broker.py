"""Doctor checks of the broker: login, publish rights (PUBACK reason), read rights (round trip).

Mosquitto 2.0 under MQTT 5 answers a publish its ACL denies with PUBACK 0x87 but grants every
SUBACK, so publishing is judged by the reason code and reading only by a received message.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from gate.config import Config, MqttConfig
from gate.doctor.verdict import Verdict, fail, ok, warn
from gate.mqtt import close_client

# Broker --------------------------------------------------------------------------------

_REFUSED_FIX = {
    134: "the password in {pw} does not match the broker's password file for {user} "
         "(`mosquitto_passwd /etc/mosquitto/campus-gate.passwd {user}`)",
    # Mosquitto 2.0 answers a wrong password or an unknown user with 0x87 under MQTT 5.
    135: "the password in {pw} is wrong for {user}, or the broker has no such account: "
         "check both against the broker's password file (`mosquitto_passwd "
         "/etc/mosquitto/campus-gate.passwd {user}` sets it)",
    133: "the broker refuses the client id: another client may use it",
}


def _probe_payload(config: Config) -> str:
    """A payload like every other on the bus (schema, id, ts, site, gate, type, severity), so a
    guard's client subscribed to the site sees a well-formed message, not an oddity."""
    return json.dumps({
        "schema": "campus-gate/doctor/1", "id": str(uuid.uuid4()),
        "ts": dt.datetime.now(config.tz).isoformat(timespec="milliseconds"),
        "site": config.site, "gate": config.gate, "type": "doctor", "severity": "info"})


def _read_password(m: MqttConfig) -> str | None:
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / "mqtt-password").is_file():
        return (Path(creds) / "mqtt-password").read_text().strip()
    return m.password_file.read_text().strip() if m.password_file else None


def check_broker(config: Config, timeout_s: float = 5.0, listen_s: float = 1.5
                 ) -> list[Verdict]:
    """Connect with the gate's credentials (MQTT 5), publish to the own subtree and check the
    PUBACK reason code, and prove the watch lists are readable by receiving one."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    m = config.mqtt
    where = f"{m.host}:{m.port}"
    user = m.username or "(anonymous)"
    try:
        password = _read_password(m)
    except OSError as exc:
        return [fail("broker login", f"cannot read the MQTT password file {m.password_file}: "
                     f"{exc.strerror}", "create it (one line, the password; mode 0600) or "
                     "use LoadCredentialEncrypted=mqtt-password")]
    base = m.client_id or f"campus-gate-{config.site}-{config.gate}"
    # Never the service's own client id: the broker would drop the running service's session.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{base}-doctor-"
                         f"{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
    if m.username:
        client.username_pw_set(m.username, password)
    if m.tls:
        client.tls_set(ca_certs=str(m.ca_file) if m.ca_file else None,
                       certfile=str(m.cert_file) if m.cert_file else None,
                       keyfile=str(m.key_file) if m.key_file else None)
    connected = threading.Event()
    connack: list[Any] = []
    pubacks: dict[int, Any] = {}
    suback: list[Any] = []
    retained: list[str] = []
    acked = threading.Condition()

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        connack.append(reason)
        connected.set()

    def on_publish(_c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with acked:
            pubacks[mid] = reason
            acked.notify_all()

    def on_subscribe(_c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        with acked:
            suback.extend(reasons)
            acked.notify_all()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        with acked:
            retained.append(msg.topic)
            acked.notify_all()

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    login_fix = "check [mqtt] host and port, that Mosquitto runs (`systemctl status mosquitto`)" \
        " and that a firewall lets the gate reach it"
    try:
        client.connect(m.host, m.port, keepalive=10)
    except (OSError, ValueError) as exc:
        return [fail("broker login", f"cannot reach the broker at {where}: {exc}", login_fix)]
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            return [fail("broker login", f"no answer from {where} within {timeout_s:.0f} s",
                         login_fix)]
        reason = connack[0]
        if reason.is_failure:
            fix = _REFUSED_FIX.get(reason.value, "check the broker's log").format(
                pw=m.password_file, user=user)
            return [fail("broker login", f"{where} refused {user}: {reason} "
                         f"(0x{reason.value:02X})", fix, code=reason.value)]
        out = [ok("broker login", f"connected to {where} as {user} (MQTT 5)")]
        topic = f"{m.root}/{config.site}/{config.gate}/doctor"
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.MessageExpiryInterval = 60
        info = client.publish(topic, _probe_payload(config), qos=1, properties=props)
        with acked:
            acked.wait_for(lambda: info.mid in pubacks, timeout_s)
        puback = pubacks.get(info.mid)
        if puback is None:
            out.append(fail("broker publish", f"no PUBACK for {topic} within {timeout_s:.0f} s",
                            "check the broker's log"))
        elif puback.is_failure:
            out.append(fail("broker publish", f"the broker denied publishing to {topic}: "
                            f"{puback} (0x{puback.value:02X})",
                            f"the ACL must give {user} `topic write {m.root}/{config.site}/"
                            f"{config.gate}/#`; check site and gate ids in config and ACL",
                            code=puback.value))
        else:
            out.append(ok("broker publish", f"PUBACK for {topic}: {puback} "
                          f"(0x{puback.value:02X})", code=puback.value))
        out.append(_check_watchlist_read(client, config, acked, suback, retained,
                                         timeout_s, listen_s))
        return out
    finally:
        close_client(client)


def _check_watchlist_read(client: Any, config: Config, acked: threading.Condition,
                          suback: list[Any], retained: list[str], timeout_s: float,
                          listen_s: float) -> Verdict:
    """Mosquitto grants a SUBACK even where the ACL forbids reading: only a received message
    proves the right, so the retained watch lists the police push are the round trip."""
    topic = f"{config.mqtt.root}/{config.site}/watchlist/#"
    client.subscribe(topic, qos=1)
    with acked:
        acked.wait_for(lambda: bool(suback), timeout_s)
        if not suback:
            return fail("broker watch lists", f"no SUBACK for {topic}", "check the broker's log")
        if suback[0].is_failure:
            return fail("broker watch lists", f"the broker refused {topic}: {suback[0]}",
                        "the ACL must give the gate `topic read " + topic + "`")
        acked.wait_for(lambda: bool(retained), listen_s)
        if retained:
            return ok("broker watch lists", f"read {len(retained)} retained watch list(s) on "
                      f"{topic}", lists=sorted(set(retained)))
    return warn("broker watch lists", f"subscribed to {topic} but no retained watch list "
                f"arrived in {listen_s:.1f} s: none pushed yet, or the ACL denies reading (the "
                "broker grants the subscription either way)",
                f"ask the police/admin to push a list; check the ACL has `topic read {topic}` "
                "for the gate")
