#!/usr/bin/env bash
# Installs what berth needs on a Debian 12 machine (as root): the Debian packages its
# tests and demo run for real, then the npm dependencies, then the build.
set -euo pipefail
cd "$(dirname "$0")/.."

# containerd: the reference CRI runtime (1.6.20 on Debian 12); runc: the OCI runtime;
# conmon: the per-container monitor berth's shim drives; CNI plugins, iproute2 and
# iptables: pod networks; busybox-static and catatonit: the test images' binaries;
# docker-registry and skopeo: a local registry to pull from.
packages=(containerd runc conmon containernetworking-plugins iproute2 iptables busybox-static catatonit
  docker-registry skopeo zstd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
