#!/usr/bin/env bash
# A real systemd and journald for the systemd tests and the systemd benchmark row: a minimal Debian root
# (debootstrap --variant=minbase with systemd, dbus and sqlite3), cached outside the repository and keyed
# by its inputs, booted with systemd-nspawn on an overlay of its own, so that the cached root is never
# written. This machine's PID 1 is not systemd: nspawn runs with --register=no --keep-unit, in cgroups
# made for it alone (--keep-unit would otherwise put the booted systemd in this shell's cgroup, the root
# of every hierarchy), in a private mount namespace with a tmpfs over /run/systemd (nspawn leaves
# /run/systemd/nspawn/propagate/<name> behind on a disk-backed /run).
#
#   scripts/systemd-machine.sh root                  builds the root when missing; prints its path
#   scripts/systemd-machine.sh boot DIR NAME [BIND…] boots the root on an overlay in DIR (upper/, work/,
#                                                    merged/, console.log); BIND is HOST:PATH, bound
#                                                    read-only; prints the container's PID 1 (host pid)
#   scripts/systemd-machine.sh halt DIR              kills the machine booted in DIR, removes its cgroups
#                                                    and DIR (also when the boot failed half-way)
#   scripts/systemd-machine.sh sweep                 halts every machine this script left behind (its DIR
#                                                    gone or its nspawn dead)
#
# Packages (debootstrap, systemd-container) are installed with apt-get when missing, as root, waiting for
# the dpkg lock. The root is built once per set of inputs (release, mirror, packages, this recipe) under
# $OZR_SYSTEMD_CACHE (default /var/cache/ozrepair/systemd-root), so CI on a clean clone on this machine
# reuses it.
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$0")/.."
say() { printf 'systemd-machine: %s\n' "$*" >&2; }

CACHE=${OZR_SYSTEMD_CACHE:-/var/cache/ozrepair/systemd-root}
# Where every booted machine records itself (for sweep): one line per machine, "NAME DIR".
REGISTRY=$CACHE/machines
PACKAGES=systemd,systemd-sysv,dbus,sqlite3
# The recipe's version: bump it when what is done to the root after debootstrap changes.
RECIPE=3

# apt_get and apt_update: apt-get that waits for the dpkg lock instead of failing.
. scripts/lib/apt.sh

need_tools() {
  local missing=()
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "the systemd tests need ${missing[*]} (Debian packages), installed as root"; exit 1
  fi
  say "installing Debian's ${missing[*]} (apt-get)"
  apt_get install -y -qq "${missing[@]}" >/dev/null \
    || { apt_update && apt_get install -y -qq "${missing[@]}" >/dev/null; }
}

# The release this machine runs and the URI of its own apt entry for it (deb822 or one-line); no host is
# named here.
release() { (. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}"); }
mirror() {
  local c uri="" f
  c=$(release)
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v c="$c" '
      function flush() { if (deb && hit && uri != "" && !done) { print uri; done = 1 } deb = 0; hit = 0; uri = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]*#/ { next }
      tolower($1) == "types:"  { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == c) hit = 1 }
      tolower($1) == "uris:"   { uri = $2 }
      END { flush() }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v c="$c" '
      $1 == "deb" { i = 2; if ($2 ~ /^\[/) { for (; i <= NF; i++) if ($i ~ /\]$/) { i++; break } }
                    if ($(i + 1) == c) { print $i; exit } }')
  fi
  [ -n "$uri" ] || { say "no package source entry (sources.list) for ${c} to build the root from"; exit 1; }
  printf '%s' "$uri"
}

root_path() {
  local key
  key=$(printf '%s\n' "$(release)" "$(mirror)" "$PACKAGES" "$RECIPE" "$(dpkg-query -W -f '${Version}' debootstrap 2>/dev/null)" \
    | sha256sum | cut -c1-16)
  printf '%s/%s' "$CACHE" "$key"
}

build_root() {
  need_tools
  local dir; dir=$(root_path)
  [ -f "$dir/ready" ] && { printf '%s/root\n' "$dir"; return 0; }
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$dir/ready" ]; then
    local c m tmp
    c=$(release); m=$(mirror)
    tmp="$dir.tmp.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    say "building the root: debootstrap --variant=minbase --include=$PACKAGES $c from $m (a few minutes, once)"
    if ! nice -n 10 debootstrap --variant=minbase --include="$PACKAGES" "$c" "$tmp/root" "$m" >"$tmp/debootstrap.log" 2>&1; then
      tail -20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; say "debootstrap failed"; exit 1
    fi
    # Quiet and quick boots: no login prompts, no timers, no apt runs; journald keeps every line of a
    # crash loop (no rate limit) in memory.
    for u in console-getty.service getty@.service apt-daily.timer apt-daily-upgrade.timer \
             dpkg-db-backup.timer e2scrub_all.timer fstrim.timer systemd-tmpfiles-clean.timer; do
      ln -sf /dev/null "$tmp/root/etc/systemd/system/$u"
    done
    mkdir -p "$tmp/root/etc/systemd/journald.conf.d"
    printf '[Journal]\nStorage=volatile\nRateLimitIntervalSec=0\n' >"$tmp/root/etc/systemd/journald.conf.d/ozrepair.conf"
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb
    printf 'ozr-test\n' >"$tmp/root/etc/hostname"
    printf '%s %s %s %s\n' "$c" "$m" "$PACKAGES" "$RECIPE" >"$tmp/inputs"
    rm -rf "$dir"; mv "$tmp" "$dir"
    touch "$dir/ready"
    say "root ready: $dir/root ($(du -sh "$dir/root" | cut -f1))"
  fi
  flock -u 9
  printf '%s/root\n' "$dir"
}

# The cgroup mount of each line of /proc/self/cgroup, with the line's path.
cgroup_dirs() {
  local line rest ctrl path m
  local -a lines
  mapfile -t lines </proc/self/cgroup
  for line in "${lines[@]}"; do
    rest=${line#*:}; ctrl=${rest%%:*}; path=${rest#*:}
    case "$ctrl" in
      "") m=/sys/fs/cgroup/unified; [ -f /sys/fs/cgroup/cgroup.controllers ] && m=/sys/fs/cgroup ;;
      name=systemd) m=/sys/fs/cgroup/systemd ;;
      name=*) continue ;;
      *) m=/sys/fs/cgroup/$ctrl ;;
    esac
    [ -f "$m/cgroup.procs" ] || continue
    printf '%s\n' "$m${path%/}"
  done
}

boot() {
  local dir=$1 name=$2; shift 2
  need_tools
  local root; root=$(build_root)
  mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$CACHE"
  printf '%s\n' "$name" >"$dir/name"
  # A cgroup of its own in every hierarchy (cpuset needs its cpus and mems before a task can join).
  : >"$dir/cgroups"
  local parent d
  while read -r parent; do
    d="$parent/ozr-sd-$name"
    mkdir -p "$d"
    if [ -f "$parent/cpuset.cpus" ]; then
      cat "$parent/cpuset.cpus" >"$d/cpuset.cpus"; cat "$parent/cpuset.mems" >"$d/cpuset.mems"
    fi
    printf '%s\n' "$d" >>"$dir/cgroups"
  done < <(cgroup_dirs)
  local binds=() b
  for b in "$@"; do binds+=("--bind-ro=$b"); done
  # The nspawn process (the same pid all along): joins those cgroups, then a private mount namespace with
  # the overlay and a tmpfs over /run/systemd, then systemd-nspawn.
  setsid "$SELF" _start "$dir" "$root" "$name" "${binds[@]}" </dev/null >"$dir/console.log" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$dir/nspawn.pid"
  # Known to sweep from now on (a machine without its nspawn.pid yet is one still starting).
  (flock 8; printf '%s %s\n' "$name" "$dir" >>"$REGISTRY") 8>>"$CACHE/.registry.lock"
  # Its PID 1: the child of nspawn that runs systemd.
  local leader="" i
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$dir/console.log" >&2; say "systemd-nspawn ended during the boot"; halt "$dir" quiet; exit 1
    fi
    leader=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
    [ -n "$leader" ] && [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break
    leader=""
    sleep 0.1
  done
  [ -n "$leader" ] || { say "the machine's systemd did not start"; halt "$dir" quiet; exit 1; }
  printf '%s\n' "$leader" >"$dir/leader.pid"
  # Booted: its manager answers (the socket appears a moment after PID 1 starts) and says running (or
  # degraded: a unit of the minimal root failed, which the tests do not need).
  local state=""
  for i in $(seq 1 600); do
    state=$(timeout 60 nsenter -t "$leader" -a systemctl is-system-running --wait 2>&1 || true)
    case "$state" in running|degraded) break ;; esac
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  case "$state" in
    running|degraded) ;;
    *) tail -30 "$dir/console.log" >&2; say "the machine did not finish booting ($state)"; halt "$dir" quiet; exit 1 ;;
  esac
  printf '%s\n' "$leader"
}

halt() {
  local dir=$1 quiet=${2:-}
  [ -d "$dir" ] || return 0
  local pid leader i
  leader=$(cat "$dir/leader.pid" 2>/dev/null || true)
  pid=$(cat "$dir/nspawn.pid" 2>/dev/null || true)
  # Killing the machine's PID 1 ends its whole PID namespace; nspawn then exits, and with it the mount
  # namespace that holds the overlay.
  if [ -n "$leader" ] && [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ]; then kill -KILL "$leader" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null && grep -qa systemd-nspawn "/proc/$pid/cmdline" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  # Its cgroups, deepest first (nspawn and the machine's systemd made their own below ours).
  if [ -f "$dir/cgroups" ]; then
    local d sub
    while read -r d; do
      [ -d "$d" ] || continue
      for i in $(seq 1 50); do
        while read -r sub; do rmdir "$sub" 2>/dev/null || true; done < <(find "$d" -depth -type d 2>/dev/null)
        [ -d "$d" ] || break
        sleep 0.1
      done
      [ -d "$d" ] && [ -z "$quiet" ] && say "cgroup $d could not be removed"
    done <"$dir/cgroups"
  fi
  local name; name=$(cat "$dir/name" 2>/dev/null || true)
  rm -rf "$dir"
  if [ -n "$name" ] && [ -f "$REGISTRY" ]; then
    (flock 8; grep -v "^$name " "$REGISTRY" >"$REGISTRY.new" || true; mv "$REGISTRY.new" "$REGISTRY") 8>>"$CACHE/.registry.lock"
  fi
}

sweep() {
  [ -f "$REGISTRY" ] || return 0
  local name dir pid
  while read -r name dir; do
    pid=$(cat "$dir/nspawn.pid" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || ! grep -qa systemd-nspawn "/proc/$pid/cmdline" 2>/dev/null; then
      halt "$dir" quiet
      # A machine whose DIR is gone: only its cgroups can be left.
      find /sys/fs/cgroup -maxdepth 3 -type d -name "ozr-sd-$name" 2>/dev/null | while read -r d; do
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
      done
      (flock 8; grep -v "^$name " "$REGISTRY" >"$REGISTRY.new" || true; mv "$REGISTRY.new" "$REGISTRY") 8>>"$CACHE/.registry.lock"
    fi
  done < <(cat "$REGISTRY")
}

# The nspawn process, in two steps (see boot).
start() {
  local dir=$1 d
  while read -r d; do echo $$ >"$d/cgroup.procs"; done <"$dir/cgroups"
  exec unshare -m --propagation private "$SELF" _ns "$@"
}
in_namespace() {
  local dir=$1 root=$2 name=$3; shift 3
  mount -t overlay overlay -o "lowerdir=$root,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
  mkdir -p /run/systemd
  mount -t tmpfs -o mode=0755 tmpfs /run/systemd
  exec systemd-nspawn -q -D "$dir/merged" -b --register=no --keep-unit -M "$name" \
    --link-journal=no --resolv-conf=off --timezone=off "$@"
}

case "${1:-}" in
  _start) shift; start "$@" ;;
  _ns) shift; in_namespace "$@" ;;
  root) build_root ;;
  boot) shift; [ $# -ge 2 ] || { say "usage: boot DIR NAME [HOST:PATH…]"; exit 2; }; boot "$@" ;;
  halt) shift; [ $# -eq 1 ] || { say "usage: halt DIR"; exit 2; }; halt "$1" ;;
  sweep) sweep ;;
  *) say "usage: $0 root | boot DIR NAME [HOST:PATH…] | halt DIR | sweep"; exit 2 ;;
esac
