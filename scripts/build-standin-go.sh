#!/usr/bin/env bash
# Builds the Go stand-in for the management server (tests/standin-go) from the real libraries Debian
# packages (go-oidc 2.x, logrus, mattn/go-sqlite3 on the system SQLite) with Go 1.23 (Debian's
# golang-1.23-go from bookworm-backports, see scripts/lib/go-build.sh), offline, in GOPATH mode: nothing
# is downloaded but Debian packages. The same binary is the Go checker of connector configs
# (`standin-go dexconfig`) and the generator of src/dex/foldtable.rs (`standin-go foldtable`). The binary is linked static (cgo, external linker, -static), packed
# as a FROM scratch root file system tar (target/standin-go/rootfs.tar), and with --import imported into
# the engine at $DOCKER_HOST (or the local socket) as ozrepair-standin-go:local. Nothing is pulled.
#
#   scripts/build-standin-go.sh            build the binary and the tar
#   scripts/build-standin-go.sh --import   ... and import the image
#   scripts/build-standin-go.sh --corpus   ... and rewrite tests/data/go-log-corpus.jsonl
#   scripts/build-standin-go.sh --fold-table   ... and rewrite src/dex/foldtable.rs (Go's key folding)
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/standin-go
IMAGE=ozrepair-standin-go:local
say() { printf 'build-standin-go: %s\n' "$*" >&2; }

# Debian packages: the Go toolchain, the libraries, what go-oidc needs (go-jose v2, x/oauth2), x/crypto
# (bcrypt, for the `login` check), and the drivers Dex links for its database servers (lib/pq,
# go-sql-driver/mysql: the `dbrows` check).
. scripts/lib/go-build.sh
PKGS=("$GO_PACKAGE" libsqlite3-dev gcc libc6-dev
  golang-github-coreos-go-oidc-dev golang-gopkg-square-go-jose.v2-dev golang-golang-x-oauth2-dev
  golang-github-pquerna-cachecontrol-dev golang-github-sirupsen-logrus-dev golang-github-mattn-go-sqlite3-dev
  golang-golang-x-crypto-dev golang-github-lib-pq-dev golang-github-go-sql-driver-mysql-dev)
debian_packages "${PKGS[@]}"
go_release_check
mkdir -p "$OUT"
# GOPATH mode: Debian's source tree first, then the stand-in's own (tests/standin-go/src/ozrstandin).
export GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=1
export GOPATH="/usr/share/gocode:$PWD/tests/standin-go"
export GOCACHE="$PWD/$OUT/gocache"
# netgo/osusergo: no glibc NSS in a static binary. -lm after the static libsqlite3.a, which needs it.
# The only link warning, dlopen in SQLite's extension loader (never used here), is filtered out.
"$GO" build -p 2 -trimpath -tags 'netgo osusergo' \
  -ldflags "-s -w -linkmode external -extldflags '-static -lm'" \
  -o "$OUT/standin-go.new" ozrstandin \
  2> >(grep -vE "unixDlOpen|statically linked applications requires at runtime|^# ozrstandin$" >&2)
mv "$OUT/standin-go.new" "$OUT/standin-go"
bin="$OUT/standin-go"
if ldd "$bin" 2>&1 | grep -q '=>' || readelf -l "$bin" | grep -q INTERP; then
  say "$bin is not static:"; ldd "$bin" >&2 || true; exit 1
fi
say "built $bin ($(stat -c %s "$bin") bytes, static)"

rm -rf "$OUT/rootfs"; mkdir -p "$OUT/rootfs/tmp" "$OUT/rootfs/var/lib/openzro"
cp "$bin" "$OUT/rootfs/standin-go"
chmod 1777 "$OUT/rootfs/tmp"
tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$OUT/rootfs" -cf "$OUT/rootfs.tar.new" .
mv "$OUT/rootfs.tar.new" "$OUT/rootfs.tar"
say "wrote $OUT/rootfs.tar ($(du -h "$OUT/rootfs.tar" | cut -f1))"

for arg in "$@"; do
  case "$arg" in
    --import)
      docker import --change 'CMD ["/standin-go"]' "$OUT/rootfs.tar" "$IMAGE" >/dev/null
      say "imported $IMAGE into ${DOCKER_HOST:-the local engine}"
      ;;
    --corpus)
      mkdir -p tests/data
      "$bin" corpus --count 300 --seed 1 >tests/data/go-log-corpus.jsonl.new
      mv tests/data/go-log-corpus.jsonl.new tests/data/go-log-corpus.jsonl
      say "wrote tests/data/go-log-corpus.jsonl ($(wc -l <tests/data/go-log-corpus.jsonl) records)"
      ;;
    --fold-table)
      "$bin" foldtable >src/dex/foldtable.rs.new
      mv src/dex/foldtable.rs.new src/dex/foldtable.rs
      say "wrote src/dex/foldtable.rs ($(grep -c "^    ('" src/dex/foldtable.rs) runes that fold to another)"
      ;;
    *) say "unknown argument $arg (--import, --corpus, --fold-table)"; exit 2 ;;
  esac
done
