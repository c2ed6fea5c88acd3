#!/usr/bin/env bash
# Regenerate constraints.txt from a set-up virtualenv: one exact pin per installed
# distribution (pip, setuptools and wheel included), without the project itself and
# without editable installs.
#   bash scripts/refresh-constraints.sh            reads .venv (bash scripts/bootstrap.sh setup makes it)
#   bash scripts/refresh-constraints.sh PATH/VENV  reads another one
# A local version label is dropped (torch 2.13.0+cpu is pinned as torch==2.13.0, which
# the CPU build satisfies), so the pins hold whichever index the wheels come from.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-${VENV:-.venv}}
if [ ! -x "$VENV/bin/python" ]; then
  echo "no virtualenv at $VENV: run bash scripts/bootstrap.sh setup first, or pass its path" >&2
  exit 1
fi
tmp=$(mktemp constraints.txt.XXXXXX)
trap 'rm -f "$tmp"' EXIT
"$VENV/bin/python" -m pip list --format=json --exclude-editable | "$VENV/bin/python" -c '
import json, re, sys

PROJECT = "hugginggpt-bot"
canon = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pins = {}
for dist in json.load(sys.stdin):
    if canon(dist["name"]) == PROJECT:
        continue
    version = dist["version"].split("+")[0]
    pins[canon(dist["name"])] = dist["name"] + "==" + version
print("# Exact versions of what scripts/bootstrap.sh installs; regenerate with")
print("# bash scripts/refresh-constraints.sh. Use: pip install -c constraints.txt ...")
for key in sorted(pins):
    print(pins[key])
' > "$tmp"
mv "$tmp" constraints.txt
trap - EXIT
echo "constraints.txt: $(grep -cv '^#' constraints.txt) pins from $VENV" >&2
