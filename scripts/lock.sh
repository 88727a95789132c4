#!/usr/bin/env bash
# Regenerate scripts/constraints.txt: the exact versions of every package (and dependency) the
# release was tested with, from the test venv. install.sh installs under these constraints.
#   scripts/lock.sh [VENV]        (default .venv)
set -euo pipefail
venv="${1:-.venv}"
out="$(dirname "${BASH_SOURCE[0]}")/constraints.txt"
{
    echo "# campus-gate pinned versions (scripts/lock.sh from a tested venv; Python $("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'))."
    echo "# Used as pip constraints by scripts/install.sh: nothing outside this list changes version."
    "$venv/bin/pip" freeze --exclude-editable --all | grep -v -E '^(campus-gate|pip|wheel)==' | LC_ALL=C sort -f
} > "$out"
echo "wrote $out ($(grep -vc '^#' "$out") packages)"
