#!/usr/bin/env bash
# The database servers the store tests start privately (each test its own data directory under a
# temporary directory, on loopback and a Unix socket; see tests/util/dbserver.rs): Debian's PostgreSQL
# (postgresql: initdb, pg_ctl, pg_dump, pg_restore, psql) and MariaDB (mariadb-server: mariadb-install-db,
# mariadbd, mariadb-dump). Installed as root with apt-get when missing, waiting for the dpkg lock
# (scripts/lib/apt.sh); the packages' own services are not started (a policy-rc.d for the length of the
# install, when the machine has none).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/apt.sh
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
apt_get install -y -qq "${need[@]}" >/dev/null \
  || { apt_update && apt_get install -y -qq "${need[@]}" >/dev/null; }
