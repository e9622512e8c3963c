#!/usr/bin/env bash
# Podman for the tests: install it when missing, and start a private Podman service that serves the
# Docker Engine API on a unix socket of its own.
#
#   scripts/podman-up.sh             install Debian's podman (+ uidmap, catatonit when packaged) if missing
#   scripts/podman-up.sh DIR         ... and start a private rootful service under DIR; prints its socket
#                                    (unix://DIR/podman.sock) on stdout
#   scripts/podman-up.sh --stop DIR  stop the service started under DIR (by its pid file) and unmount its
#                                    storage, so that DIR can be removed
#
# Under DIR: root/, run/ and tmp/ (storage, run state and libpod's tmp state: nothing shared with the
# machine's own Podman or another service),
# containers.conf (CONTAINERS_CONF for the service and for `podman --root DIR/root --runroot DIR/run`),
# service.pid, service.log. The private containers.conf sets rlimits the local runc accepts
# (default_ulimits), cgroupfs, file events and k8s-file logs, so nothing depends on systemd or journald,
# and its own tmp_dir (DIR/tmp): rootful services otherwise share /run/libpod, so one service's events
# (a stop in another test's engine) show up in every other's `podman events`.
# The storage driver is overlay where the kernel allows it, else vfs ($OZR_PODMAN_DRIVER forces one).
# Nothing is pulled: import images from a rootfs tar (`podman ... import`), run with --network none.
set -euo pipefail

say() { printf 'podman-up: %s\n' "$*" >&2; }

install_podman() {
  if command -v podman >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "no podman here and cannot install it (needs root and apt-get): install podman, then re-run"
    exit 1
  fi
  say "installing Debian's podman (apt-get)"
  . "$(dirname "$0")/lib/apt.sh"
  apt_update
  local pkgs="podman uidmap"
  if apt-cache show catatonit >/dev/null 2>&1; then
    pkgs="$pkgs catatonit"
  fi
  # shellcheck disable=SC2086
  apt_get install -y -qq --no-install-recommends $pkgs >/dev/null
  command -v podman >/dev/null 2>&1 || { say "podman installed but not on PATH"; exit 1; }
}

stop_service() {
  local dir=$1 pid
  pid=$(cat "$dir/service.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "stopped the service of $dir (pid $pid)"
  fi
  rm -f "$dir/service.pid"
}

if [ "${1:-}" = "--stop" ]; then
  [ -n "${2:-}" ] || { say "--stop needs the service's directory"; exit 2; }
  stop_service "$2"
  # The overlay driver keeps its directory mounted on itself; unmounted so that DIR can be removed.
  dir=$(cd "$2" && pwd)
  if grep -q " $dir/root/overlay " /proc/mounts 2>/dev/null; then
    umount "$dir/root/overlay" 2>/dev/null || say "cannot unmount $dir/root/overlay (a container may still use it)"
  fi
  exit 0
fi

install_podman
[ -n "${1:-}" ] || { say "podman $(podman --version | awk '{print $3}') is installed"; exit 0; }

if [ "$(id -u)" != 0 ]; then
  say "a private rootful service needs root; run this script as root"
  exit 1
fi

mkdir -p "$1"
DIR=$(cd "$1" && pwd)
SOCK="$DIR/podman.sock"
CONF="$DIR/containers.conf"
LOG="$DIR/service.log"
# unix socket paths are limited to 107 bytes.
if [ "${#SOCK}" -gt 100 ]; then
  say "$SOCK is too long for a unix socket; use a shorter directory"
  exit 1
fi

# The runtime's hard limit is the most a container may ask for; nproc stays well under the machine's.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
nproc=$(ulimit -Hu)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
cat >"$CONF" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$DIR/tmp"
EOF
mkdir -p "$DIR/tmp"

answers() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1
  else
    podman --url "unix://$SOCK" version >/dev/null 2>&1
  fi
}

if [ -e "$DIR/service.pid" ] && kill -0 "$(cat "$DIR/service.pid")" 2>/dev/null && answers; then
  say "service already answers on $SOCK"
  printf 'unix://%s\n' "$SOCK"
  exit 0
fi
stop_service "$DIR"
rm -f "$SOCK"

driver=${OZR_PODMAN_DRIVER:-}
if [ -z "$driver" ]; then
  # overlay needs a kernel that mounts it here (not inside some containers); vfs always works.
  probe=$(mktemp -d)
  mkdir -p "$probe/l" "$probe/u" "$probe/w" "$probe/m"
  if mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null; then
    umount "$probe/m"
    driver=overlay
  else
    driver=vfs
  fi
  rm -rf "$probe"
fi
printf '%s\n' "$driver" >"$DIR/driver"

say "starting a private podman service ($driver storage, log: $LOG)"
CONTAINERS_CONF="$CONF" nohup podman --root "$DIR/root" --runroot "$DIR/run" --storage-driver "$driver" \
  system service --time=0 "unix://$SOCK" >"$LOG" 2>&1 </dev/null &
pid=$!
printf '%s\n' "$pid" >"$DIR/service.pid"
for _ in $(seq 1 100); do
  if answers; then
    say "service up (pid $pid)"
    printf 'unix://%s\n' "$SOCK"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    say "the service exited while starting; last lines of $LOG:"
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  sleep 0.2
done
say "the service did not answer within 20 s; last lines of $LOG:"
tail -n 20 "$LOG" >&2
exit 1
