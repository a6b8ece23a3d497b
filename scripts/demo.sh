#!/usr/bin/env bash
# The main job, on its embedded default: `berth up` starts berth runtime and berth kubelet,
# builds the node's images offline (busybox, pause) and imports them, runs the example pods
# in examples/, shows their status live, and removes everything on Ctrl-C (or after
# --duration, e.g. `bash scripts/demo.sh --duration 60s`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/berth up "$@"
