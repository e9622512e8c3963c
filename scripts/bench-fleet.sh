#!/usr/bin/env bash
# Fleet scaling, on record: N private Docker engines on this machine (each its own dockerd, data root
# and socket), each with a locked-out deployment; the wall time of `ozrepair fleet … fix` for 1 host, and
# for all N hosts with --parallel 1 and --parallel N. Writes docs/BENCHMARKS-fleet.md.
#
#   scripts/bench-fleet.sh [N]      (default 4 engines)
# A benchmark, not a test: it prints and records times; it asserts nothing about them.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4}
ROOT=/tmp/ozr-bench-fleet
say() { printf 'bench-fleet: %s\n' "$*" >&2; }

scripts/docker-up.sh
cargo build --quiet --release --bin ozrepair -p ozrepair --bin ozr-seed -p ozrepair-standin
scripts/build-standin.sh
OZR=$PWD/target/release/ozrepair
SEED=$PWD/target/release/ozr-seed

pids=()
cleanup() {
  for i in $(seq 1 "$N"); do
    docker -H "unix://$ROOT/$i/d.sock" rm -f openzro-management >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
  rm -rf "$ROOT"
}
trap cleanup EXIT
rm -rf "$ROOT"
for i in $(seq 1 "$N"); do
  mkdir -p "$ROOT/$i"
  dockerd -H "unix://$ROOT/$i/d.sock" --data-root "$ROOT/$i/data" --exec-root "$ROOT/$i/x" --pidfile "$ROOT/$i/d.pid" \
    --bridge none --iptables=false --ip-masq=false >"$ROOT/$i/log" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 "$N"); do
  until docker -H "unix://$ROOT/$i/d.sock" version >/dev/null 2>&1; do sleep 0.1; done
  docker -H "unix://$ROOT/$i/d.sock" import --change 'CMD ["/standin"]' target/standin/rootfs.tar ozrepair-standin:local >/dev/null
done

# A fresh locked-out deployment on engine $1 (not timed).
break_one() {
  local h="unix://$ROOT/$1/d.sock"
  docker -H "$h" rm -f openzro-management >/dev/null 2>&1 || true
  docker -H "$h" volume rm -f root_openzro_management >/dev/null 2>&1 || true
  docker -H "$h" volume create root_openzro_management >/dev/null
  local mp; mp=$(docker -H "$h" volume inspect -f '{{.Mountpoint}}' root_openzro_management)
  "$SEED" --db "$mp/idp.db" --schema 11 --connectors '[{"id":"local","type":"local","name":"Email","resource_version":"","config":null},
    {"id":"d4s1a2b3c4d5e6f7g8h9","type":"oidc","name":"JumpCloud","resource_version":"","config":"{\"clientID\":\"c\",\"clientSecret\":\"s\",\"issuer\":\"https://oauth.id.jumpcloud.com\"}"}]'
  docker -H "$h" run -d --pull never --network none --restart always --name openzro-management \
    -v root_openzro_management:/var/lib/openzro -e STANDIN_PUBLISHED=https://oauth.id.jumpcloud.com/ ozrepair-standin:local >/dev/null
  until [ "$(docker -H "$h" inspect -f '{{.RestartCount}}' openzro-management)" -ge 1 ]; do sleep 0.05; done
}

ms() { echo $(( $(date +%s%N) / 1000000 )); }
run_fleet() { # hosts parallel -> elapsed ms
  local hosts=$1 par=$2 inv="$ROOT/inventory"
  : >"$inv"
  for i in $(seq 1 "$hosts"); do break_one "$i"; echo "unix://$ROOT/$i/d.sock" >>"$inv"; done
  local t0; t0=$(ms)
  "$OZR" fleet --inventory "$inv" --parallel "$par" --yes --output json fix >"$ROOT/out.jsonl" || { cat "$ROOT/out.jsonl" >&2; exit 1; }
  echo $(( $(ms) - t0 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

RUNS=${OZR_BENCH_RUNS:-3}
declare -A med
for case in "1 1" "$N 1" "$N $N"; do
  set -- $case
  times=()
  for _ in $(seq 1 "$RUNS"); do times+=("$(run_fleet "$1" "$2")"); done
  med["$1x$2"]=$(printf '%s\n' "${times[@]}" | median)
  say "hosts=$1 parallel=$2: ${times[*]} ms (median ${med["$1x$2"]})"
done

one=${med["1x1"]}; serial=${med["${N}x1"]}; par=${med["${N}x${N}"]}
mkdir -p docs
{
  echo "# Fleet scaling"
  echo
  echo "Measured by \`scripts/bench-fleet.sh $N\` on $(date -u +%Y-%m-%d): $N private Docker engines on one"
  echo "machine ($(nproc) cores, $(uname -r), Docker $(docker version --format '{{.Server.Version}}')), each with the locked-out"
  echo "seed deployment (a crash-looping stand-in); \`ozrepair fleet --inventory … --yes fix\` with the default"
  echo "\`--wait 30\`, which ends early when the server says it is up. Median of $RUNS runs."
  echo
  echo "| hosts | --parallel | wall time (ms) | per host (ms) | vs 1 host |"
  echo "|---|---|---|---|---|"
  echo "| 1 | 1 | $one | $one | 1.00 |"
  awk -v n="$N" -v t="$serial" -v o="$one" 'BEGIN { printf "| %d | 1 | %d | %d | %.2f |\n", n, t, t/n, t/o }'
  awk -v n="$N" -v t="$par" -v o="$one" 'BEGIN { printf "| %d | %d | %d | %d | %.2f |\n", n, n, t, t/n, t/o }'
  echo
  echo "Every host is a separate run of ozrepair (stop, verified backup, edit, start, watch), so --parallel"
  echo "overlaps their waiting on the engines; on 2 cores the engines' own work is what limits the overlap."
} >docs/BENCHMARKS-fleet.md
cat docs/BENCHMARKS-fleet.md
