#!/usr/bin/env bash
# A tour of the CRI below the kubelet: starts a local registry with berth's test images and
# berth's own runtime, walks a pod through its whole life with the crictl-like berth CLI
# (printing each command and its output), then repeats the steps on a private reference
# containerd. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/testenv/demo-main.js "$@"
