#!/usr/bin/env bash
# campus-gate from a source checkout on Debian/Ubuntu:
#   ./run.sh demo    install what is missing, then run `gate demo`
#   ./run.sh test    install what is missing (plus test tools), then lint, type-check and test
#                    (extra arguments go to pytest)
#   ./run.sh setup   install only
# System packages are installed with apt-get (as root, or through sudo); Python packages go
# into .venv at the versions in scripts/constraints.txt, all as prebuilt wheels (dlib from the
# dlib-bin wheel): nothing is compiled.
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-demo}"
shift || true

RUNTIME_DEBS=(python3-venv mosquitto mosquitto-clients)
# the demo draws Chinese plates (the font) and plays vtest.avi on its walkway camera (opencv-doc)
DEMO_DEBS=(fonts-wqy-microhei opencv-doc)
TEST_DEBS=(chromium socat rabbitmq-server postgresql)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "run.sh: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

python_env() {
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "run.sh: campus-gate needs Python 3.11 or newer" >&2; exit 2; }
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >&2
  export PIP_CONSTRAINT="$PWD/scripts/constraints.txt"
  .venv/bin/python -m pip install -q -e ".$1" >&2
  # face_recognition names the source package `dlib` as a dependency; dlib-bin (installed
  # above from pyproject.toml) is the same library prebuilt, so take the API without its deps.
  .venv/bin/python -m pip install -q --no-deps face-recognition >&2
  # hyperlpr2: only its plate detector's model files are used; it names the GUI opencv-python
  .venv/bin/python -m pip install -q --no-deps hyperlpr2 >&2
}

case "$what" in
  setup) apt_install "${RUNTIME_DEBS[@]}"; python_env "" ;;
  demo)  apt_install "${RUNTIME_DEBS[@]}" "${DEMO_DEBS[@]}"; python_env ""
         exec .venv/bin/gate demo "$@" ;;
  test)
    apt_install "${RUNTIME_DEBS[@]}" "${DEMO_DEBS[@]}" "${TEST_DEBS[@]}"
    python_env "[test]"
    .venv/bin/ruff check .
    .venv/bin/mypy
    # one worker per core and one more (many tests wait on real time: a broker outage, the
    # demo's morning); each test file is one unit of work, the longest first, and the hub's
    # files one unit together (tests/conftest.py); `./run.sh test -n 0` runs in one process
    exec .venv/bin/pytest -n "$(( $(nproc) + 1 ))" --dist loadfile --no-loadscope-reorder "$@"
    ;;
  *) echo "usage: ./run.sh demo|test|setup" >&2; exit 2 ;;
esac
