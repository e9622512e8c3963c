# Sourced by the Go build scripts (build-standin-go.sh, build-yamlcheck-go.sh): the Debian packages they
# build from, installed when missing, and the Go toolchain they build with: Go 1.23, Debian's
# golang-1.23-go from bookworm-backports (the Go release line Dex and NetBird are built with is 1.21 or
# later; their key folding and Unicode tables are 1.21+'s). Needs `say` defined.

# The toolchain: Debian's golang-1.23-go puts it here.
GO_PACKAGE=golang-1.23-go
GO=/usr/lib/go-1.23/bin/go
# Never fetch another toolchain, whatever a go.mod might say (these builds are GOPATH mode anyway).
export GOTOOLCHAIN=local

# apt_get and apt_update, which wait for another apt or dpkg run to let go of its locks.
. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
# needrestart, where installed, has nothing to restart in a build and only talks on stderr.
export NEEDRESTART_SUSPEND=1

# backports_entry: makes sure apt has this release's -backports suite. When no source entry names it yet,
# one is added (/etc/apt/sources.list.d/ozrepair-backports.sources), derived from the machine's own entry
# for the release: the same URI and keyring, suite <codename>-backports, component main. No host is named.
backports_entry() {
  local codename uri="" keyring="" f
  codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || { say "cannot tell this Debian release's codename (/etc/os-release)"; exit 1; }
  if grep -rqsE "(^|[[:space:]])${codename}-backports([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  # deb822 entries (*.sources): the stanza of type deb whose Suites has the codename itself.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    read -r uri keyring < <(awk -v c="$codename" '
      function flush() { if (deb && hit && uri != "" && !done) { print uri, (key == "" ? "-" : key); done = 1 }
                         deb = 0; hit = 0; uri = ""; key = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]*#/ { next }
      tolower($1) == "types:"     { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "suites:"    { for (i = 2; i <= NF; i++) if ($i == c) hit = 1 }
      tolower($1) == "uris:"      { uri = $2 }
      tolower($1) == "signed-by:" { key = $2 }
      END { flush() }' "$f") || true
    [ -n "$uri" ] && break
  done
  # One-line entries: `deb [options] URI codename components`.
  if [ -z "$uri" ]; then
    read -r uri keyring < <(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v c="$codename" '
      $1 == "deb" {
        key = "-"; i = 2
        if ($2 ~ /^\[/) { for (; i <= NF; i++) { if ($i ~ /^\[?signed-by=/) { key = $i; sub(/^\[?signed-by=/, "", key); sub(/\]$/, "", key) }
                                                 if ($i ~ /\]$/) { i++; break } } }
        if ($(i + 1) == c) { print $i, key; exit }
      }') || true
  fi
  [ -n "$uri" ] || { say "no source entry for ${codename} to derive ${codename}-backports from"; exit 1; }
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\n' "$uri" "$codename"
    [ "$keyring" != "-" ] && [ -n "$keyring" ] && printf 'Signed-By: %s\n' "$keyring"
  } >/etc/apt/sources.list.d/ozrepair-backports.sources
  say "added ${codename}-backports from this machine's entry for ${codename} (/etc/apt/sources.list.d/ozrepair-backports.sources)"
}

# debian_packages PKG...: installs the packages not installed yet (root and apt-get; the toolchain from
# -backports), or exits 1 saying which are missing.
debian_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing Debian packages (${missing[*]}) and cannot install them (needs root and apt-get)"; exit 1
  fi
  backports_entry
  say "installing ${missing[*]} (apt-get)"
  apt_update
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# go_release_check: the toolchain's release line (go1.23), which must be 1.23.
go_release_check() {
  local v
  v=$("$GO" env GOVERSION 2>/dev/null) || { say "$GO does not run"; exit 1; }
  case "$v" in
    go1.23|go1.23.*) ;;
    *) say "$GO is $v, not Go 1.23"; exit 1 ;;
  esac
}
