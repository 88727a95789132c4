#!/usr/bin/env bash
# campus-gate installer and upgrader for a Debian 12 gate computer (run as root from a checkout).
#
#   sudo scripts/install.sh                 # first install, or upgrade in place
#   sudo scripts/install.sh --with-mosquitto  # also install and configure the local broker
#
# What it does (README "Installer's guide"):
#   1. Debian packages needed to build and run; the system user campus-gate.
#   2. A venv in /opt/campus-gate with exactly the versions in scripts/constraints.txt.
#   3. /etc/campus-gate/gate.toml from the example (kept if present), the udev rule, the unit.
#   4. Encrypted credentials (systemd-creds) for the MQTT password and the biometric key.
#   5. On upgrade: stops the service, takes `gate backup` first, keeps the previous venv as
#      /opt/campus-gate.previous; the service runs the schema migrations at start (after its
#      own backup).
set -euo pipefail

PREFIX=/opt/campus-gate
ETC=/etc/campus-gate
STATE=/var/lib/campus-gate
CREDSTORE=/etc/credstore.encrypted
USER_NAME=campus-gate
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WITH_MOSQUITTO=0

RUNTIME_DEBS=(python3 python3-venv libopenblas0 libjpeg62-turbo)
BUILD_DEBS=(build-essential cmake pkg-config python3-dev)

usage() { sed -n '2,16p' "$0"; exit 2; }
say() { printf '\n== %s\n' "$*"; }

for arg in "$@"; do
    case "$arg" in
        --with-mosquitto) WITH_MOSQUITTO=1 ;;
        -h|--help) usage ;;
        *) echo "unknown option: $arg" >&2; usage ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "run as root (sudo $0)" >&2; exit 2; }
[[ -f "$SRC/pyproject.toml" && -f "$SRC/scripts/constraints.txt" ]] \
    || { echo "$SRC is not a campus-gate checkout" >&2; exit 2; }

say "Debian packages"
apt-get update -qq
DEBS=("${RUNTIME_DEBS[@]}" "${BUILD_DEBS[@]}")
if [[ $WITH_MOSQUITTO -eq 1 ]]; then DEBS+=(mosquitto mosquitto-clients); fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${DEBS[@]}"

say "System user $USER_NAME"
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
        --groups dialout,video "$USER_NAME"
fi

UPGRADE=0
if [[ -x $PREFIX/bin/gate ]]; then
    UPGRADE=1
    say "Upgrade: stopping the service and taking a backup first"
    systemctl stop gate.service 2>/dev/null || true
    if [[ -f $STATE/gate.sqlite3 ]]; then
        backup_dir="$STATE/backups/pre-upgrade-$(date +%Y%m%dT%H%M%S)"
        runuser -u "$USER_NAME" -- "$PREFIX/bin/gate" --config "$ETC/gate.toml" \
            --data-dir "$STATE" backup "$backup_dir"
    fi
    rm -rf "$PREFIX.previous"
    cp -a "$PREFIX" "$PREFIX.previous"
fi

say "Python environment in $PREFIX (pinned by scripts/constraints.txt)"
[[ -d $PREFIX ]] || python3 -m venv "$PREFIX"
"$PREFIX/bin/pip" install -q --upgrade pip
# Constraints pin every transitive dependency to the versions the release was tested with.
PIP_CONSTRAINT="$SRC/scripts/constraints.txt" "$PREFIX/bin/pip" install -q --upgrade "$SRC"
# hyperlpr2: only the plate detector's model files are used; it names the GUI opencv-python
PIP_CONSTRAINT="$SRC/scripts/constraints.txt" "$PREFIX/bin/pip" install -q --no-deps hyperlpr2
install -d -m 0755 "$PREFIX/share"
install -m 0644 "$SRC/README.md" "$PREFIX/share/README.md"

say "Configuration in $ETC"
install -d -m 0750 -g "$USER_NAME" "$ETC"
if [[ ! -f $ETC/gate.toml ]]; then
    install -m 0640 -g "$USER_NAME" "$SRC/config/gate.example.toml" "$ETC/gate.toml"
    echo "edit $ETC/gate.toml (site, gate, readers, relays, cameras), then: gate doctor"
fi
"$PREFIX/bin/gate" check-config "$ETC/gate.toml" || echo "fix $ETC/gate.toml before starting"

say "Encrypted credentials in $CREDSTORE"
install -d -m 0700 "$CREDSTORE"
if [[ ! -f $CREDSTORE/campus-gate.mqtt-password ]]; then
    read -r -s -p "MQTT password of this gate's broker account: " mqtt_password; echo
    printf '%s' "$mqtt_password" | systemd-creds encrypt --name=mqtt-password - \
        "$CREDSTORE/campus-gate.mqtt-password"
    unset mqtt_password
fi
if [[ ! -f $CREDSTORE/campus-gate.biometric-key ]]; then
    # 32 random bytes, URL-safe base64 (a Fernet key); never written to disk unencrypted.
    "$PREFIX/bin/python" -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())' \
        | systemd-creds encrypt --name=biometric-key - "$CREDSTORE/campus-gate.biometric-key"
    echo "A new biometric key was made. Keep an offline copy (without it the encrypted face"
    echo "data cannot be read after a disk change):"
    echo "  systemd-creds decrypt --name=biometric-key $CREDSTORE/campus-gate.biometric-key -"
fi

say "udev rule and systemd unit"
install -m 0644 "$SRC/systemd/99-campus-gate.rules" /etc/udev/rules.d/99-campus-gate.rules
if command -v udevadm >/dev/null; then
    udevadm control --reload
    udevadm trigger --subsystem-match=tty
fi
install -m 0644 "$SRC/systemd/gate.service" /etc/systemd/system/gate.service
install -m 0644 "$SRC/systemd/gate-backup.service" "$SRC/systemd/gate-backup.timer" \
    /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now gate-backup.timer

if [[ $WITH_MOSQUITTO -eq 1 ]]; then
    say "Mosquitto"
    install -m 0644 "$SRC/config/mosquitto/mosquitto.conf" /etc/mosquitto/conf.d/campus-gate.conf
    [[ -f /etc/mosquitto/campus-gate.acl ]] \
        || install -m 0640 -g mosquitto "$SRC/config/mosquitto/acl" /etc/mosquitto/campus-gate.acl
    echo "edit /etc/mosquitto/campus-gate.acl (site, gate ids) and create the accounts:"
    echo "  mosquitto_passwd -c /etc/mosquitto/campus-gate.passwd gate-<site>-<gate>"
fi

if [[ $UPGRADE -eq 1 ]]; then
    say "Starting the upgraded service (it migrates the schema after its own backup)"
    systemctl start gate.service
    systemctl --no-pager --lines=5 status gate.service || true
    echo "rollback: systemctl stop gate; rm -rf $PREFIX; mv $PREFIX.previous $PREFIX;"
    echo "          gate restore $STATE/backups/pre-upgrade-...; systemctl start gate"
else
    say "Installed. Next: wire the devices, edit $ETC/gate.toml, then"
    echo "  sudo -u $USER_NAME $PREFIX/bin/gate --config $ETC/gate.toml doctor"
    echo "  sudo systemctl enable --now gate.service"
fi
