"""The shipped unit passes `systemd-analyze verify` and keeps its hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "systemd" / "gate.service"
analyze = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(analyze is None, reason="systemd-analyze not installed")


def _unit_with_local_binary(tmp_path: Path, name: str = "gate.service") -> Path:
    """A shipped unit, with /opt/campus-gate/bin/gate replaced by a stand-in executable
    (verify checks that ExecStart programs exist; nothing else is changed)."""
    gate = tmp_path / "bin" / "gate"
    if not gate.exists():
        gate.parent.mkdir()
        gate.write_text("#!/bin/sh\nexit 0\n")
        gate.chmod(0o755)
    unit = tmp_path / name
    unit.write_text((ROOT / "systemd" / name).read_text()
                    .replace("/opt/campus-gate/bin/gate", str(gate)))
    return unit


@needs_analyze
@pytest.mark.parametrize("names", [["gate.service"],
                                   ["gate-backup.service", "gate-backup.timer"]])
def test_units_verify_without_warnings(tmp_path: Path, names: list[str]) -> None:
    units = [str(_unit_with_local_binary(tmp_path, name)) for name in names]
    out = subprocess.run([str(analyze), "verify", *units],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # unknown keys and bad values are only warnings: any output is a defect
    assert out.stderr.strip() == "" and out.stdout.strip() == ""


@needs_analyze
def test_unit_verify_catches_a_typo(tmp_path: Path) -> None:
    unit = _unit_with_local_binary(tmp_path)
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSistem=strict"))
    out = subprocess.run([str(analyze), "verify", str(unit)], capture_output=True, text=True,
                         timeout=60)
    assert "Unknown key 'ProtectSistem'" in out.stderr


@needs_analyze
def test_security_exposure_is_low() -> None:
    out = subprocess.run([str(analyze), "security", "--offline=yes", str(UNIT)],
                         capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for gate\.service: ([0-9.]+)", out.stdout)
    if match is None:
        pytest.skip(f"this systemd-analyze has no --offline security: {out.stderr[:200]}")
    assert float(match.group(1)) <= 2.0, out.stdout


def test_unit_contract() -> None:
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=30", "ProtectSystem=strict",
                 "StateDirectory=campus-gate", "User=campus-gate",
                 "SupplementaryGroups=dialout video", "NoNewPrivileges=yes",
                 "LoadCredentialEncrypted=mqtt-password:",
                 "LoadCredentialEncrypted=biometric-key:"):
        assert re.search(rf"^{re.escape(line)}", text, re.MULTILINE), line


def test_udev_rule_gives_stable_names_to_dialout() -> None:
    rules = (ROOT / "systemd" / "99-campus-gate.rules").read_text()
    active = [ln for ln in rules.splitlines() if ln and not ln.startswith("#")]
    assert any('SYMLINK+="gate-reader-L1-in"' in ln and "ID_SERIAL_SHORT" in ln for ln in active)
    for ln in active:
        assert 'GROUP="dialout"' in ln and 'MODE="0660"' in ln, ln


def test_install_scripts_parse() -> None:
    for script in ("install.sh", "gate-doctor", "lock.sh"):
        path = ROOT / "scripts" / script
        assert path.stat().st_mode & 0o111, f"{script} is not executable"
        out = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    if shutil.which("shellcheck"):
        out = subprocess.run(["shellcheck", *(str(ROOT / "scripts" / name) for name in
                                              ("install.sh", "gate-doctor", "lock.sh"))],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stdout


def test_mosquitto_config_keeps_messages() -> None:
    conf = (ROOT / "config" / "mosquitto" / "mosquitto.conf").read_text()
    settings = dict(ln.split(None, 1) for ln in conf.splitlines()
                    if ln.strip() and not ln.startswith("#") and " " in ln)
    assert settings["persistence"] == "true"
    assert int(settings["max_queued_messages"]) >= 100_000


def test_constraints_pin_every_runtime_dependency() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = {}
    for line in (ROOT / "scripts" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[canonicalize_name(name)] = version
    for dep in deps:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not pinned in scripts/constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), (req, pinned[name])
