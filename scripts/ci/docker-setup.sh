#!/usr/bin/env bash
# Installs and starts what the docker tests need: dockerd (overlay2, else vfs), the registry binary, busybox-static.
# Idempotent and quick when already set up; safe on a fresh Debian machine running as root.
set -euo pipefail

sock=/var/run/docker.sock
log=/var/log/mlproject-dockerd.log

ping_daemon() { curl -sf --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for pkg in docker.io docker-registry busybox-static curl; do installed "$pkg" || missing+=("$pkg"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "docker-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packages' init scripts may try to start services here; without an init system that is harmless.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The packaged registry service (if an init script started it) would hold port 5000; tests start their own.
if [ -f /var/run/docker-registry.pid ]; then kill "$(cat /var/run/docker-registry.pid)" 2>/dev/null || true; fi

if ping_daemon; then
  echo "docker-setup: dockerd already answers on $sock"
  exit 0
fi

start_dockerd() {
  local driver=$1
  echo "docker-setup: starting dockerd with the $driver storage driver (log: $log)"
  # setsid: the daemon must outlive this script and not receive the terminal's signals.
  setsid dockerd --host="unix://$sock" --storage-driver="$driver" >>"$log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 150); do
    ping_daemon && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

# overlay2 is fast; vfs works on any filesystem (e.g. when / is itself an overlay). DOCKER_STORAGE_DRIVERS overrides the order.
for driver in ${DOCKER_STORAGE_DRIVERS:-overlay2 vfs}; do
  if start_dockerd "$driver"; then
    echo "docker-setup: dockerd is up ($(curl -s --unix-socket "$sock" http://localhost/version | grep -o '"Version":"[^"]*"' | head -1), $driver)"
    exit 0
  fi
  echo "docker-setup: dockerd did not start with $driver" >&2
done
echo "docker-setup: dockerd did not start; last lines of $log:" >&2
tail -n 30 "$log" >&2
exit 1
