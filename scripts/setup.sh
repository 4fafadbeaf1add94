#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for NetProbes: the system packages
# (libpcap headers to build the capture binding, Chromium for the browser UI
# tests, tcpdump and iproute2 for the tests' reference captures and test
# namespaces, Prometheus with promtool, openssl and systemd-analyze for the
# exporter's tests), then the npm packages (`npm ci`, which also patches and builds
# the libpcap binding and builds dist/). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libpcap-dev build-essential python3 chromium tcpdump iproute2 procps bpftrace pkexec policykit-1 dbus xvfb tshark prometheus openssl systemd)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    sudo=sudo
    command -v sudo >/dev/null || { echo "setup: need root to install ${missing[*]} (apt-get install ${missing[*]})" >&2; exit 1; }
  else
    sudo=
  fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Electron's binary comes from outside the npm registry: skip it where that is
# unreachable (`npm start` then serves the GUI to a browser instead).
export ELECTRON_SKIP_BINARY_DOWNLOAD="${ELECTRON_SKIP_BINARY_DOWNLOAD:-1}"
npm ci --no-audit --no-fund
echo "setup: done. Start with: npm start   (as root to capture: sudo npm start)"
