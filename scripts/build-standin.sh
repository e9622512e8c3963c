#!/usr/bin/env bash
# Builds the stand-in management server as a static binary and packs it as a FROM scratch root file
# system tar (target/standin/rootfs.tar). With --import, also imports it into the engine at $DOCKER_HOST
# (or the local socket) as ozrepair-standin:local. Nothing is pulled: the image is built from local files.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-gnu
OUT=target/standin
say() { printf 'build-standin: %s\n' "$*" >&2; }

# crt-static with an explicit --target keeps build scripts and proc-macros dynamic.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release -p ozrepair-standin --bin standin --target "$TARGET"
bin="target/$TARGET/release/standin"
if ldd "$bin" >/dev/null 2>&1 && ! ldd "$bin" 2>&1 | grep -qE 'not a dynamic|statically linked'; then
  say "$bin is not static"; exit 1
fi

rm -rf "$OUT/rootfs"; mkdir -p "$OUT/rootfs/tmp" "$OUT/rootfs/var/lib/openzro"
cp "$bin" "$OUT/rootfs/standin"
chmod 1777 "$OUT/rootfs/tmp"
tar --numeric-owner --owner=0 --group=0 -C "$OUT/rootfs" -cf "$OUT/rootfs.tar.new" .
mv "$OUT/rootfs.tar.new" "$OUT/rootfs.tar"
say "wrote $OUT/rootfs.tar ($(du -h "$OUT/rootfs.tar" | cut -f1))"

if [ "${1:-}" = "--import" ]; then
  docker import --change 'CMD ["/standin"]' "$OUT/rootfs.tar" ozrepair-standin:local >/dev/null
  say "imported ozrepair-standin:local into ${DOCKER_HOST:-the local engine}"
fi
