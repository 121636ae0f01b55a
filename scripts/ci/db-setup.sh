#!/usr/bin/env bash
# Installs the PostgreSQL and MariaDB servers and clients the database-store tests start for themselves; starts no service.
# Idempotent and quick when already installed; safe on a fresh Debian machine running as root. The tests run their own
# throwaway servers (test/lib/databases.ts), so a packaged service left running would only hold ports 5432 and 3306.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for pkg in postgresql postgresql-client mariadb-server mariadb-client; do installed "$pkg" || missing+=("$pkg"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "db-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d answering 101 tells invoke-rc.d not to start the packages' services (the Debian convention for containers).
  policy=/usr/sbin/policy-rc.d
  added_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=true
  fi
  trap '[ "$added_policy" = false ] || rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Should a package script have started its service anyway, stop it, by the pid its own pid file names.
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(head -n 1 "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "db-setup: stopping the packaged service with pid $pid ($file)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}
for file in /var/run/postgresql/*.pid /run/mysqld/mysqld.pid; do stop_pidfile "$file"; done

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
echo "db-setup: $("$pg_bin/postgres" --version), $(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version)"
