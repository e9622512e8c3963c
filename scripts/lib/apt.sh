# Sourced by the scripts that install Debian packages (test.sh, docker-up.sh, podman-up.sh, bench.sh):
# apt-get that waits for the dpkg and apt locks, so an apt run that holds them (unattended-upgrades, another
# script, an operator) delays the script instead of failing it.
#
#   apt_get ARGS...   apt-get -o DPkg::Lock::Timeout=SECONDS ARGS..., non-interactive
#   apt_update        apt-get update -qq, tried again while another run holds the package lists' lock
#                     (apt 2.6 applies DPkg::Lock::Timeout to the dpkg locks only); quiet unless it fails
#
# OZR_APT_LOCK_TIMEOUT: how long to wait for a lock, in seconds (default 600).

apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="${OZR_APT_LOCK_TIMEOUT:-600}" "$@"
}

apt_update() {
  local end out
  end=$(($(date +%s) + ${OZR_APT_LOCK_TIMEOUT:-600}))
  while :; do
    if out=$(apt_get update -qq "$@" 2>&1); then
      return 0
    fi
    if ! grep -q 'Could not get lock' <<<"$out" || [ "$(date +%s)" -ge "$end" ]; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    sleep 2
  done
}
