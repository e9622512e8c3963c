#!/usr/bin/env bash
# Builds the YAML checker (tests/yamlcheck-go): a tiny Go program that reads a file with the YAML libraries
# the real servers use (Dex: ghodss/yaml over go-yaml v2; NetBird's combined server: gopkg.in/yaml.v3) and
# prints what they read as JSON. The config editors' hostile table (tests/suite/hostile_config.rs) compares
# its reading before and after each edit. Offline, GOPATH mode, from Debian's packages only; installs them
# when missing (root and apt-get). Output: target/yamlcheck-go/ozryamlcheck.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/yamlcheck-go
say() { printf 'build-yamlcheck-go: %s\n' "$*" >&2; }

PKGS=(golang-go golang-github-ghodss-yaml-dev golang-gopkg-yaml.v2-dev golang-gopkg-yaml.v3-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing Debian packages (${missing[*]}) and cannot install them (needs root and apt-get)"; exit 1
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

GO=go
command -v go >/dev/null 2>&1 || GO=/usr/lib/go/bin/go
mkdir -p "$OUT"
export GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0
export GOPATH="/usr/share/gocode:$PWD/tests/yamlcheck-go"
export GOCACHE="$PWD/$OUT/gocache"
"$GO" build -p 1 -trimpath -o "$OUT/ozryamlcheck.new" ozryamlcheck
mv "$OUT/ozryamlcheck.new" "$OUT/ozryamlcheck"
say "built $OUT/ozryamlcheck"
