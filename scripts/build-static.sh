#!/usr/bin/env bash
# A static release binary to copy to a server over SSH (no glibc or SQLite needed there):
#   target/static/ozrepair          x86_64 glibc, crt-static (always)
#   target/static/ozrepair-musl     x86_64 musl (only when the musl target and musl-tools are installed)
# Prints each binary's size. Static glibc cannot use NSS modules: host names resolve through
# /etc/hosts and DNS only, which is what --discover needs.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'build-static: %s\n' "$*" >&2; }
mkdir -p target/static

TARGET=x86_64-unknown-linux-gnu
# An explicit --target keeps build scripts and proc-macros dynamic while the binary is static.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release --bin ozrepair -p ozrepair --target "$TARGET" 2> >(grep -v "statically linked applications requires at runtime" >&2)
cp "target/$TARGET/release/ozrepair" target/static/ozrepair
if ldd target/static/ozrepair 2>&1 | grep -q '=>'; then
  say "target/static/ozrepair is not static:"; ldd target/static/ozrepair >&2; exit 1
fi
say "target/static/ozrepair ($TARGET, static): $(stat -c %s target/static/ozrepair) bytes"

if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl && command -v musl-gcc >/dev/null; then
  cargo build --quiet --release --bin ozrepair -p ozrepair --target x86_64-unknown-linux-musl
  cp target/x86_64-unknown-linux-musl/release/ozrepair target/static/ozrepair-musl
  say "target/static/ozrepair-musl (x86_64-unknown-linux-musl): $(stat -c %s target/static/ozrepair-musl) bytes"
else
  say "musl: skipped (needs the x86_64-unknown-linux-musl target and Debian's musl-tools)"
fi
