#!/usr/bin/env bash
# Packages for an operator without a Rust toolchain, all around the static binary scripts/build-static.sh
# makes (x86_64, no libc or SQLite needed on the host), with the man pages and shell completions the binary
# writes itself:
#
#   target/packages/ozrepair-VERSION-x86_64-linux       the static binary
#   target/packages/ozrepair_VERSION-1_amd64.deb        Debian/Ubuntu (cargo-deb)
#   target/packages/ozrepair-VERSION-1.x86_64.rpm       RHEL/Fedora/SUSE (cargo-generate-rpm)
#   target/packages/SHA256SUMS                          `sha256sum -c SHA256SUMS` checks all three
#   and beside each file FILE.sha256 (sha256sum's format: `sha256sum -c FILE.sha256` checks that one)
#
# The packagers are crates.io's cargo-deb and cargo-generate-rpm at pinned versions, installed with
# `cargo install --locked` into a cache outside the repository (OZR_TOOLS_CACHE, default
# /var/cache/ozrepair/cargo-tools, else ~/.cache/ozrepair/cargo-tools when that is not writable), once.
# OZR_STATIC_BUILT=1 takes target/static/ozrepair as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'build-packages: %s\n' "$*" >&2; }

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1

cache=${OZR_TOOLS_CACHE:-/var/cache/ozrepair/cargo-tools}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/ozrepair/cargo-tools
  mkdir -p "$cache"
fi

# tool CRATE VERSION BINARY: the path of BINARY from CRATE at VERSION, installed into the cache when missing.
tool() {
  local root="$cache/$1-$2"
  if [ ! -x "$root/bin/$3" ]; then
    say "installing $1 $2 (cargo install --locked) into $root"
    cargo install --quiet --locked --version "$2" --root "$root" "$1" >&2
  fi
  printf '%s\n' "$root/bin/$3"
}
cargo_deb=$(tool cargo-deb "$CARGO_DEB_VERSION" cargo-deb)
cargo_rpm=$(tool cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION" cargo-generate-rpm)

if [ "${OZR_STATIC_BUILT:-}" != 1 ] || [ ! -x target/static/ozrepair ]; then
  scripts/build-static.sh
fi
bin=target/static/ozrepair
version=$("$bin" --version | awk '{print $2}')
want=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
if [ "$version" != "$want" ]; then
  say "target/static/ozrepair is version $version, Cargo.toml says $want: build it again"; exit 1
fi

# What the packages install besides the binary, made by the binary (the paths Cargo.toml's metadata names).
stage=target/packages/stage
rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions"
"$bin" man --dir "$stage/man" 2>/dev/null
gzip -9n "$stage"/man/*.1
"$bin" completions bash > "$stage/completions/ozrepair"
"$bin" completions zsh > "$stage/completions/_ozrepair"
"$bin" completions fish > "$stage/completions/ozrepair.fish"

out=target/packages
rm -f "$out"/*.deb "$out"/*.rpm "$out"/*.sha256 "$out"/SHA256SUMS "$out"/ozrepair-*-x86_64-linux
cp "$bin" "$out/ozrepair-$version-x86_64-linux"
# The binary is built already (and stripped): the packagers only lay it out.
"$cargo_deb" --no-build --no-strip --deb-revision 1 --output "$out/ozrepair_${version}-1_amd64.deb" >/dev/null
"$cargo_rpm" --payload-compress gzip -o "$out/ozrepair-${version}-1.x86_64.rpm" >/dev/null
rm -rf "$stage"

(
  cd "$out"
  : > SHA256SUMS
  for f in "ozrepair-$version-x86_64-linux" "ozrepair_${version}-1_amd64.deb" "ozrepair-${version}-1.x86_64.rpm"; do
    sha256sum "$f" > "$f.sha256"
    cat "$f.sha256" >> SHA256SUMS
    say "$out/$f: $(stat -c %s "$f") bytes, sha256 $(cut -d' ' -f1 "$f.sha256")"
  done
)
