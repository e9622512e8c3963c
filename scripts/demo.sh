#!/usr/bin/env bash
# The main job on a demo deployment: builds ozrepair and the stand-in management server, creates a
# locked-out deployment in the local Docker engine (volume root_openzro_management, container
# openzro-management crash-looping on a JumpCloud issuer without its trailing slash), then runs
#   ozrepair inspect          (read-only: exit 3, a change is pending)
#   ozrepair fix --yes        (backup, stop, edit, start, watch: exit 0)
# and shows the container healthy.
#
#   scripts/demo.sh           run the demo (replaces an earlier demo deployment)
#   scripts/demo.sh --clean   remove the demo container and volume, and nothing else
set -euo pipefail
cd "$(dirname "$0")/.."

CONTAINER=${OZR_DEMO_CONTAINER:-openzro-management}
VOLUME=${OZR_DEMO_VOLUME:-root_openzro_management}
IMAGE=ozrepair-standin:local
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

clean() {
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
}
if [ "${1:-}" = "--clean" ]; then
  clean
  echo "removed container $CONTAINER and volume $VOLUME (if they existed)"
  exit 0
fi

scripts/docker-up.sh
say "building ozrepair and the stand-in image"
cargo build --quiet --release --bin ozrepair -p ozrepair --bin ozr-seed -p ozrepair-standin
scripts/build-standin.sh --import
OZREPAIR=target/release/ozrepair

say "creating a locked-out deployment: volume $VOLUME, container $CONTAINER"
clean
docker volume create "$VOLUME" >/dev/null
mp=$(docker volume inspect -f '{{.Mountpoint}}' "$VOLUME")
# The rows NetBird's embedded Dex writes: the local password connector, and JumpCloud added as generic
# OIDC (a bare xid id, keys sorted, Go's \u0026 escape) with the issuer missing its trailing slash.
target/release/ozr-seed --db "$mp/idp.db" --schema 11 --owner 0:0 --mode 644 --connectors '[
  {"id":"local","type":"local","name":"Email","resource_version":"","config":null},
  {"id":"d4s1a2b3c4d5e6f7g8h9","type":"oidc","name":"JumpCloud","resource_version":"",
   "config":"{\"clientID\":\"0f5e2c9a-demo\",\"clientSecret\":\"demo-client-secret-do-not-print\",\"insecureSkipEmailVerified\":true,\"issuer\":\"https://oauth.id.jumpcloud.com\",\"redirectURI\":\"https://openzro.example.com/oauth2/callback?x=1\\u0026y=2\",\"scopes\":[\"openid\",\"profile\",\"email\"]}"}
]'
docker run -d --pull never --name "$CONTAINER" --network none --restart always \
  -v "$VOLUME:/var/lib/openzro" -e STANDIN_PUBLISHED="https://oauth.id.jumpcloud.com/" "$IMAGE" >/dev/null
for _ in $(seq 1 100); do
  [ "$(docker inspect -f '{{.RestartCount}}' "$CONTAINER")" -ge 2 ] && break
  sleep 0.1
done
docker ps -a --filter "name=^/$CONTAINER\$" --format 'table {{.Names}}\t{{.Status}}'
echo "last log line:"; docker logs --tail 1 "$CONTAINER" 2>&1 | cut -c1-400

say "ozrepair inspect   (read-only; exit 3 means a fix is pending)"
set +e
"$OZREPAIR" inspect; code=$?
set -e
echo "(exit $code)"

say "ozrepair fix --yes"
"$OZREPAIR" fix --yes

say "after the fix"
docker ps -a --filter "name=^/$CONTAINER\$" --format 'table {{.Names}}\t{{.Status}}'
docker logs --tail 2 "$CONTAINER" 2>&1
echo
echo "Remove the demo deployment with: scripts/demo.sh --clean"
