#!/usr/bin/env bash
# Builds the YAML checker (tests/yamlcheck-go): a tiny Go program that reads a file with the YAML libraries
# the real servers use (Dex: ghodss/yaml over go-yaml v2; NetBird's combined server: gopkg.in/yaml.v3) and
# prints what they read as JSON. The config editors' hostile table (tests/suite/hostile_config.rs) compares
# its reading before and after each edit. Go 1.23 (Debian's golang-1.23-go from bookworm-backports, see
# scripts/lib/go-build.sh), offline, GOPATH mode, from Debian's packages only; installs them when missing
# (root and apt-get). Output: target/yamlcheck-go/ozryamlcheck.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/yamlcheck-go
say() { printf 'build-yamlcheck-go: %s\n' "$*" >&2; }

. scripts/lib/go-build.sh
PKGS=("$GO_PACKAGE" golang-github-ghodss-yaml-dev golang-gopkg-yaml.v2-dev golang-gopkg-yaml.v3-dev)
debian_packages "${PKGS[@]}"
go_release_check
mkdir -p "$OUT"
export GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0
export GOPATH="/usr/share/gocode:$PWD/tests/yamlcheck-go"
export GOCACHE="$PWD/$OUT/gocache"
"$GO" build -p 1 -trimpath -o "$OUT/ozryamlcheck.new" ozryamlcheck
mv "$OUT/ozryamlcheck.new" "$OUT/ozryamlcheck"
say "built $OUT/ozryamlcheck"
