# Sourced by the Go build scripts (build-standin-go.sh, build-yamlcheck-go.sh): the Debian packages they
# build from, installed when missing, and the Go toolchain they build with. Needs `say` defined.

# debian_packages PKG...: installs the packages not installed yet (root and apt-get), or exits 1 saying
# which are missing.
debian_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing Debian packages (${missing[*]}) and cannot install them (needs root and apt-get)"; exit 1
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The go command: on PATH, or where Debian's golang-go puts it.
GO=go
command -v go >/dev/null 2>&1 || GO=/usr/lib/go/bin/go
