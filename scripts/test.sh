#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them all
# (unit tests, lint, and integration tests against real containerd, runc and a registry).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
