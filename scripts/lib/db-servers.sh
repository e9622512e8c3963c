#!/usr/bin/env bash
# The database servers the store tests start privately (each test its own data directory under a
# temporary directory, on loopback and a Unix socket; see tests/util/dbserver.rs): Debian's PostgreSQL
# (postgresql: initdb, pg_ctl, pg_dump, pg_restore, psql) and MariaDB (mariadb-server: mariadb-install-db,
# mariadbd, mariadb-dump). Installed as root with apt-get when missing, waiting for the dpkg lock; the
# packages' own services are not started (a policy-rc.d for the length of the install, when the machine
# has none).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v pg_dump >/dev/null || need+=(postgresql)
{ command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; } && command -v mariadb-install-db >/dev/null || need+=(mariadb-server mariadb-client)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "db-servers.sh: the store tests need ${need[*]} (Debian's packages)" >&2
  exit 1
fi
echo "db-servers.sh: installing Debian's ${need[*]} (apt-get)" >&2
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt install -y -qq "${need[@]}" >/dev/null \
  || { apt update -qq >/dev/null && apt install -y -qq "${need[@]}" >/dev/null; }
