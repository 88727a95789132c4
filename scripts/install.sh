#!/usr/bin/env bash
# campus-gate installer and upgrader for a Debian 12 gate computer (run as root from a checkout).
#
#   sudo scripts/install.sh                   # first install, or upgrade in place
#   sudo scripts/install.sh --with-mosquitto  # also install and configure the local broker
#   sudo scripts/install.sh --offline ARCHIVE # from scripts/bundle.sh's archive, no network
#   scripts/install.sh --offline ARCHIVE --venv-only --prefix DIR
#                                             # only the Python environment, in DIR (no root)
#
# What it does (README "Installer's guide"):
#   1. Debian packages needed to run (nothing is compiled); the system user campus-gate.
#   2. A venv in /opt/campus-gate with exactly the versions in scripts/constraints.txt, all
#      prebuilt wheels (dlib from dlib-bin); offline, from the archive's wheels only.
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
OFFLINE=""
VENV_ONLY=0

# Every Python package is a manylinux wheel with its own libraries: the runtime needs only these.
RUNTIME_DEBS=(python3 python3-venv)

usage() { sed -n '2,18p' "$0"; exit 2; }
say() { printf '\n== %s\n' "$*"; }

install_python() {
    # Constraints pin every transitive dependency to the versions the release was tested with.
    # face_recognition names the source package `dlib` as a dependency; dlib-bin (in the project's
    # list) is the same library prebuilt, so face_recognition is installed without its deps.
    # hyperlpr2: only its plate detector's model files are used; it names the GUI opencv-python.
    if [[ -n $BUNDLE ]]; then
        pip_from=(--no-index --find-links "$BUNDLE/wheels")
        "$PREFIX/bin/python" -m pip install -q "${pip_from[@]}" --upgrade pip
        "$PREFIX/bin/pip" install -q "${pip_from[@]}" -c "$SRC/scripts/constraints.txt" \
            --upgrade campus-gate
        "$PREFIX/bin/pip" install -q "${pip_from[@]}" --no-deps face-recognition hyperlpr2
    else
        "$PREFIX/bin/python" -m pip install -q --upgrade pip
        PIP_CONSTRAINT="$SRC/scripts/constraints.txt" "$PREFIX/bin/pip" install -q --upgrade "$SRC"
        "$PREFIX/bin/pip" install -q -c "$SRC/scripts/constraints.txt" --no-deps face-recognition \
            hyperlpr2
    fi
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --with-mosquitto) WITH_MOSQUITTO=1 ;;
        --offline) [[ $# -ge 2 ]] || usage; OFFLINE="$(realpath "$2")"; shift ;;
        --venv-only) VENV_ONLY=1 ;;
        --prefix) [[ $# -ge 2 ]] || usage; PREFIX="$(realpath -m "$2")"; shift ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
[[ $VENV_ONLY -eq 1 || $EUID -eq 0 ]] || { echo "run as root (sudo $0)" >&2; exit 2; }
[[ -f "$SRC/pyproject.toml" && -f "$SRC/scripts/constraints.txt" ]] \
    || { echo "$SRC is not a campus-gate checkout" >&2; exit 2; }

BUNDLE=""
if [[ -n $OFFLINE ]]; then
    say "Offline archive $OFFLINE"
    [[ -f $OFFLINE ]] || { echo "no such archive: $OFFLINE" >&2; exit 2; }
    unpacked="$(mktemp -d)"
    trap 'rm -rf "$unpacked"' EXIT
    tar -C "$unpacked" -xf "$OFFLINE"
    BUNDLE="$unpacked/campus-gate-offline"
    cat "$BUNDLE/MANIFEST"
    (cd "$BUNDLE" && sha256sum --quiet -c SHA256SUMS) || { echo "archive is damaged" >&2; exit 1; }
    want="$(sed -n 's/^python cp\([0-9]*\) .*/\1/p' "$BUNDLE/MANIFEST")"
    have="$(python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')"
    [[ $want == "$have" ]] || {
        echo "the archive is for Python $want, this machine's python3 is $have" >&2; exit 2; }
fi

if [[ $VENV_ONLY -eq 0 ]]; then
    say "Debian packages"
    if [[ -n $BUNDLE ]]; then
        # dpkg alone, from the archive: no package lists, no network; same versions are skipped
        if [[ $WITH_MOSQUITTO -eq 1 ]]; then debs=("$BUNDLE"/debs/*.deb); else
            debs=(); for f in "$BUNDLE"/debs/*.deb; do
                [[ $(basename "$f") == mosquitto* ]] || debs+=("$f"); done
        fi
        DEBIAN_FRONTEND=noninteractive dpkg -i --skip-same-version "${debs[@]}"
    else
        apt-get update -qq
        DEBS=("${RUNTIME_DEBS[@]}")
        if [[ $WITH_MOSQUITTO -eq 1 ]]; then DEBS+=(mosquitto mosquitto-clients); fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${DEBS[@]}"
    fi
fi

if [[ $VENV_ONLY -eq 1 ]]; then
    say "Python environment in $PREFIX"
    [[ -d $PREFIX ]] || python3 -m venv "$PREFIX"
    install_python
    "$PREFIX/bin/gate" --help >/dev/null
    echo "installed: $PREFIX/bin/gate"
    exit 0
fi

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
install_python
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
