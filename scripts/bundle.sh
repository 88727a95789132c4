#!/usr/bin/env bash
# Build the offline installer: one archive with everything a gate computer without internet
# needs (README "Offline install"). Run on a machine of the same kind as the gates (Debian 12,
# same CPU architecture, the same Python minor version), with network:
#
#   scripts/bundle.sh [OUT.tar]        default: dist/campus-gate-VERSION-pyXY-ARCH.tar
#
# The archive holds
#   wheels/   campus-gate and every Python dependency at the versions of scripts/constraints.txt,
#             as wheels for this Python and platform (face_recognition_models, which PyPI has
#             only as a source package, is built into a wheel here, once);
#   debs/     the Debian packages of the runtime (python3-venv, mosquitto, mosquitto-clients)
#             and their dependencies that a minimal Debian 12 (debootstrap's minbase) lacks;
#   src/      this checkout (git archive of HEAD): the installer, configs and units;
#   MANIFEST  what was bundled, from which commit, for which Python and platform; SHA256SUMS.
# The models ship inside the wheels: dlib's (face_recognition_models), the PP-OCR plate models
# (rapidocr), the liveness and perimeter models (campus-gate itself). Nothing is fetched at run
# time. Install it with: sudo scripts/install.sh --offline ARCHIVE
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
DEBS=(python3 python3-venv mosquitto mosquitto-clients)

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml" | head -1)"
pyver="$("$PY" -c 'import sys; print("%d%d" % sys.version_info[:2])')"
arch="$(dpkg --print-architecture)"
out="${1:-$SRC/dist/campus-gate-$version-py$pyver-$arch.tar}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/campus-gate-offline"
mkdir -p "$root/wheels" "$root/debs"

echo "== wheels (Python $pyver, $arch)" >&2
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip wheel
export PIP_CONSTRAINT="$SRC/scripts/constraints.txt"
# pip wheel: a wheel of campus-gate, the wheels of its dependencies as published, and a wheel
# built from any dependency published only as source; face-recognition without its `dlib`
# source dependency (dlib-bin is in the project's list) and hyperlpr2 without its GUI OpenCV,
# as run.sh installs them.
"$work/venv/bin/pip" wheel -q -w "$root/wheels" "$SRC"
"$work/venv/bin/pip" wheel -q --no-deps -w "$root/wheels" face-recognition hyperlpr2
"$work/venv/bin/pip" download -q --no-deps -d "$root/wheels" pip
# Nothing in the list may be a source archive: the gate has no compiler.
if ls "$root/wheels" | grep -v '\.whl$' >&2; then echo "bundle: not a wheel (above)" >&2; exit 1; fi

echo "== Debian packages: ${DEBS[*]} and what they need beyond a minimal Debian 12" >&2
# apt resolves against a made-up minimal Debian 12 (debootstrap's minbase: the Priority:
# required packages and their dependencies, at the current versions), not against this
# machine, so it picks what a fresh gate lacks, alternatives and conflicts included.
mapfile -t required < <(apt-cache dumpavail | awk 'BEGIN {RS = ""}
    /\nPriority: required\n/ {match($0, /Package: [^\n]*/); print substr($0, RSTART + 9, RLENGTH - 9)}' | sort -u)
: > "$work/empty-status"
mapfile -t minbase < <(apt-get -s -o Dir::State::status="$work/empty-status" install "${required[@]}" \
    2>/dev/null | awk '/^Inst /{print $2}')
apt-cache show --no-all-versions "${minbase[@]}" | awk 'BEGIN {RS = ""; ORS = "\n\n"}
    {sub(/\n/, "\nStatus: install ok installed\n"); print}' > "$work/minbase-status"
mkdir -p "$work/debs/partial"
apt-get -q -o Dir::State::status="$work/minbase-status" -o Dir::Cache::archives="$work/debs" \
    --download-only --no-install-recommends -y install "${DEBS[@]}" >&2
mv "$work"/debs/*.deb "$root/debs/"

echo "== manifest" >&2
{
    echo "campus-gate $version ($(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown))"
    echo "python cp$pyver $("$PY" -c 'import sysconfig; print(sysconfig.get_platform())')"
    echo "debian $(cut -d. -f1 /etc/debian_version 2>/dev/null || echo ?) $arch"
    echo "built $(date -u +%FT%TZ)"
    echo "wheels $(ls "$root/wheels" | wc -l)"
    echo "debs $(ls "$root/debs" | wc -l): ${DEBS[*]} + dependencies"
} > "$root/MANIFEST"
git -C "$SRC" archive --format=tar --prefix=src/ HEAD | tar -C "$root" -x
(cd "$root" && find wheels debs -type f -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
mkdir -p "$(dirname "$out")"
# wheels and .debs are compressed already: a plain tar
tar -C "$work" -cf "$out" campus-gate-offline
echo "wrote $out ($(du -h "$out" | cut -f1)): $(sed -n '5,6p' "$root/MANIFEST" | paste -sd ', ')"
