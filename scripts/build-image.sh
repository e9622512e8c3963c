#!/usr/bin/env bash
# A container image for a host that has only Docker (or Podman): FROM scratch, nothing in it but the static
# binary of scripts/build-static.sh (and an empty /tmp), made by `docker import` of a tar, no registry:
#
#   target/packages/ozrepair-VERSION-image.tar          the image's root file system (with .sha256)
#   ozrepair:VERSION (and ozrepair:latest)              imported into the engine DOCKER_HOST names
#
# Run it with the engine's socket and the volumes' root mounted at their own paths, so that ozrepair reaches
# the database through the host path, and this host's key directory, so that its backups stay signed:
#
#   docker run --rm -it --network none -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/docker/volumes:/var/lib/docker/volumes -v /var/lib/ozrepair:/var/lib/ozrepair \
#     ozrepair:VERSION fix
#
#   scripts/build-image.sh              build the binary when needed, write the tar, import it
#   scripts/build-image.sh --no-import  only the tar (to copy to the host: docker import --change ... < tar)
# OZR_STATIC_BUILT=1 takes target/static/ozrepair as it is; DOCKER (default docker) is the client to import with.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'build-image: %s\n' "$*" >&2; }

import=1
[ "${1:-}" = --no-import ] && import=0

if [ "${OZR_STATIC_BUILT:-}" != 1 ] || [ ! -x target/static/ozrepair ]; then
  scripts/build-static.sh
fi
version=$(target/static/ozrepair --version | awk '{print $2}')
out=target/packages
mkdir -p "$out"
tar="$out/ozrepair-$version-image.tar"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -m 0755 target/static/ozrepair "$root/ozrepair"
mkdir -m 1777 "$root/tmp"
# Owned by root, in a fixed order and time: the same binary gives the same tar.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$tar" ozrepair tmp
(cd "$out" && sha256sum "$(basename "$tar")" > "$(basename "$tar").sha256")
say "$tar: $(stat -c %s "$tar") bytes"

if [ "$import" = 1 ]; then
  "${DOCKER:-docker}" import \
    --change 'ENTRYPOINT ["/ozrepair"]' \
    --change 'ENV TMPDIR=/tmp' \
    --change "LABEL org.opencontainers.image.title=ozrepair org.opencontainers.image.version=$version" \
    "$tar" "ozrepair:$version" >/dev/null
  "${DOCKER:-docker}" tag "ozrepair:$version" ozrepair:latest
  say "imported ozrepair:$version (and ozrepair:latest)"
fi
