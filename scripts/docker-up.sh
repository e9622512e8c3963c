#!/usr/bin/env bash
# Make sure a Docker engine answers on the local socket; start one if none does.
#
#   scripts/docker-up.sh          install docker.io when missing (needs apt-get and root), start dockerd
#
# Exit 0 when `docker version` reaches a server, non-zero with a message otherwise. It never pulls an image.
set -euo pipefail

SOCK=${OZR_DOCKER_SOCK:-/var/run/docker.sock}
LOG=${OZR_DOCKERD_LOG:-/var/log/ozrepair-dockerd.log}

say() { printf 'docker-up: %s\n' "$*" >&2; }
answers() { docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answers; then
  say "engine already answers on $SOCK ($(docker -H "unix://$SOCK" version --format '{{.Server.Version}}'))"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "no dockerd here and cannot install it (needs root and apt-get): install Docker, then re-run"
    exit 1
  fi
  say "installing Debian's docker.io (apt-get)"
  . "$(dirname "$0")/lib/apt.sh"
  apt_update
  apt_get install -y -qq docker.io >/dev/null
fi
command -v docker >/dev/null 2>&1 || { say "docker.io installed but no docker client on PATH"; exit 1; }

if [ "$(id -u)" != 0 ]; then
  say "no engine answers on $SOCK and starting dockerd needs root: run this script as root"
  exit 1
fi

# A stale socket or pid file from a killed daemon would stop a new one from starting.
if [ -e /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
[ -S "$SOCK" ] && ! answers && rm -f "$SOCK"

say "starting dockerd (log: $LOG)"
# No bridge, no iptables: the tests run every container with --network none, and nothing is pulled.
nohup dockerd -H "unix://$SOCK" --bridge none --iptables=false --ip-masq=false >"$LOG" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  if answers; then
    say "engine up (pid $pid, version $(docker -H "unix://$SOCK" version --format '{{.Server.Version}}'))"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    say "dockerd exited while starting; last lines of $LOG:"
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  sleep 0.5
done
say "dockerd did not answer within 60 s; last lines of $LOG:"
tail -n 20 "$LOG" >&2
exit 1
