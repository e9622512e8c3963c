#!/usr/bin/env bash
# Fleet scaling, on record: private Docker engines on this machine (each its own dockerd, data root and
# socket), each with a locked-out deployment; the wall time of `ozrepair fleet … fix` for each case
# HOSTS:PARALLEL, against one host. Right after each fix, the same fleet's `inspect` of the now healthy
# hosts: the tool's own cost per host (spawn, connect, locate, read) without the engines' stop and start;
# the same inspect with every host reached over ssh:// (a throwaway OpenSSH server on loopback per host, as
# the e2e tests run it): the tunnel's own cost per host. Then the Ansible collection's module
# (openzro.ozrepair.ozrepair, Debian's ansible-core) over the same hosts at `forks` PARALLEL, with
# pipelining on and off: its fix of freshly broken hosts, its inspect of the healthy ones, and Ansible's own
# cost per host without ozrepair (ansible.builtin.ping, the same connection and Python on each host).
# Writes docs/BENCHMARKS-fleet.md, with the machine's load average before each case and at the end.
#
#   scripts/bench-fleet.sh [CASES]   (default "1:1 16:8 16:32 64:8 64:32"; the target: 16 hosts at
#                                    --parallel 8 within 2.5x one host)
#   OZR_BENCH_RUNS=N                 runs per case (default 3; medians)
#   OZR_BENCH_ANSIBLE=0              without the ssh and Ansible columns
#   OZR_BENCH_PIPELINING="on off"    the Ansible runs' pipelining settings (default both)
#   OZR_BENCH_FLEET_ROOT=DIR         where the engines live (default /tmp/ozr-bench-fleet)
#   OZR_BENCH_RESULTS=FILE           also append the rows of docs/BENCHMARKS.md's table (benchmark 5) to
#                                    FILE, as ozr-bench records (scripts/bench.sh sets it)
# A benchmark, not a test: it prints and records times; it asserts nothing about them.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-1:1 16:8 16:32 64:8 64:32}
N=0
for c in $CASES; do h=${c%%:*}; [ "$h" -gt "$N" ] && N=$h; done
ROOT=${OZR_BENCH_FLEET_ROOT:-/tmp/ozr-bench-fleet}
say() { printf 'bench-fleet: %s\n' "$*" >&2; }

scripts/docker-up.sh
cargo build --quiet --release --bin ozrepair -p ozrepair --bin ozr-seed --bin ozr-bench -p ozrepair-standin
scripts/build-standin.sh
OZR=$PWD/target/release/ozrepair
SEED=$PWD/target/release/ozr-seed
HB=$PWD/target/release/ozr-bench

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

ANSIBLE=${OZR_BENCH_ANSIBLE:-1}
if [ "$ANSIBLE" = 1 ]; then
  # One throwaway sshd per host on loopback (own port, a shared host key, a client key authorised for
  # root), as tests/util/sshd.rs runs it; ssh's known_hosts holds every server's key.
  S="$ROOT/ssh"; mkdir -p "$S" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$S/client_key"
  cp "$S/client_key.pub" "$S/authorized_keys"
  mapfile -t PORTS < <(python3 -c 'import socket,sys
socks=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
for s in socks: print(s.getsockname()[1])' "$N")
  : >"$S/known_hosts"
  for i in $(seq 1 "$N"); do
    port=${PORTS[$((i - 1))]}
    printf 'ListenAddress 127.0.0.1\nPort %s\nHostKey %s\nAuthorizedKeysFile %s\nPidFile %s\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowStreamLocalForwarding yes\nMaxStartups 100\n' \
      "$port" "$S/host_key" "$S/authorized_keys" "$S/sshd-$i.pid" >"$S/sshd-$i.conf"
    /usr/sbin/sshd -D -e -f "$S/sshd-$i.conf" 2>"$S/sshd-$i.log" &
    pids+=($!)
    echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$S/host_key.pub")" >>"$S/known_hosts"
  done
  for i in $(seq 1 "$N"); do
    until (exec 3<>"/dev/tcp/127.0.0.1/${PORTS[$((i - 1))]}") 2>/dev/null; do sleep 0.1; done
  done
  export OZREPAIR_SSH_ARGS="-i $S/client_key -o UserKnownHostsFile=$S/known_hosts -o IdentitiesOnly=yes"
  # The collection, built and installed offline into $ROOT/ansible (nothing read from or written to the
  # real home), as tests/util/ansible.rs does; the playbook runs its module on every host at once.
  A="$ROOT/ansible"; mkdir -p "$A"/{home,ansible-home,local-tmp,remote-tmp,collections,dist,cp}
  printf '[defaults]\n' >"$A/ansible.cfg"
  aenv=(env HOME="$A/home" ANSIBLE_CONFIG="$A/ansible.cfg" ANSIBLE_HOME="$A/ansible-home"
    ANSIBLE_LOCAL_TEMP="$A/local-tmp" ANSIBLE_REMOTE_TEMP="$A/remote-tmp" ANSIBLE_COLLECTIONS_PATH="$A/collections"
    ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_PIPELINING=True
    ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s -o BatchMode=yes" ANSIBLE_SSH_CONTROL_PATH_DIR="$A/cp")
  "${aenv[@]}" ansible-galaxy collection build --force --output-path "$A/dist" ansible >/dev/null
  "${aenv[@]}" ansible-galaxy collection install --offline -p "$A/collections" "$A"/dist/*.tar.gz >/dev/null
  printf -- '- name: ozrepair on every host\n  hosts: ozrepair\n  gather_facts: false\n  tasks:\n    - name: Run ozrepair\n      openzro.ozrepair.ozrepair:\n        binary: "%s"\n        docker_host: "{{ ozr_engine }}"\n        action: "{{ ozr_action }}"\n        wait: 30\n' \
    "$OZR" >"$A/play.yml"
  # Ansible's own cost per host: the same play with a module that does nothing (ping: the same forked
  # worker, ssh connection and Python on the host, without ozrepair).
  printf -- '- name: ping on every host\n  hosts: ozrepair\n  gather_facts: false\n  tasks:\n    - name: Ping\n      ansible.builtin.ping:\n' >"$A/ping.yml"
  ansible_version=$(ansible-playbook --version 2>/dev/null | sed -n "1s/^ansible-playbook \[core \(.*\)\]/\1/p")
fi

# A fresh locked-out deployment on engine $1 (not timed); break_all N does engines 1..N, 8 at a time.
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
export -f break_one
export ROOT SEED
break_all() { seq 1 "$1" | xargs -P 8 -I{} bash -c 'break_one {}'; }

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# hosts parallel -> "fix-ms inspect-ms": a fleet fix of freshly broken hosts, then a fleet inspect of them.
run_fleet() {
  local hosts=$1 par=$2 inv="$ROOT/inventory"
  : >"$inv"
  for i in $(seq 1 "$hosts"); do echo "unix://$ROOT/$i/d.sock" >>"$inv"; done
  break_all "$hosts"
  local t0 t1 t2
  t0=$(ms)
  "$OZR" fleet --inventory "$inv" --parallel "$par" --yes --output json fix >"$ROOT/out.jsonl" || { cat "$ROOT/out.jsonl" >&2; exit 1; }
  t1=$(ms)
  local fixed=$(( t1 - t0 ))
  # Untimed: the runs the fix started settle (ozrepair looks at a run younger than 10 s for a restart
  # loop, 1.2 s; an older one it reads at once), so the inspect measures ozrepair, not that look.
  sleep 11
  t1=$(ms)
  "$OZR" fleet --inventory "$inv" --parallel "$par" --output json inspect >"$ROOT/inspect.jsonl" || { cat "$ROOT/inspect.jsonl" >&2; exit 1; }
  t2=$(ms)
  local sshed=-1
  if [ "$ANSIBLE" = 1 ]; then
    # The same inspect of the same healthy hosts, each engine reached over ssh:// through its own sshd.
    : >"$inv.ssh"
    for i in $(seq 1 "$hosts"); do echo "ssh://root@127.0.0.1:${PORTS[$((i - 1))]}$ROOT/$i/d.sock" >>"$inv.ssh"; done
    local t3; t3=$(ms)
    "$OZR" fleet --inventory "$inv.ssh" --parallel "$par" --output json inspect >"$ROOT/inspect-ssh.jsonl" || { cat "$ROOT/inspect-ssh.jsonl" >&2; exit 1; }
    sshed=$(( $(ms) - t3 ))
  fi
  echo "$fixed $(( t2 - t1 )) $sshed"
}
# hosts forks on|off -> "fix-ms inspect-ms ping-ms": the Ansible module over ssh on freshly broken hosts
# at FORKS with pipelining on or off, then (after the same settling) its inspect of them, then the ping
# play (Ansible's own cost).
run_ansible() {
  local hosts=$1 forks=$2 pipe=$3 inv="$ROOT/ansible-hosts.yml" pl=True
  [ "$pipe" = on ] || pl=False
  { echo "ozrepair:"; echo "  hosts:"
    for i in $(seq 1 "$hosts"); do
      printf '    host-%s:\n      ansible_host: 127.0.0.1\n      ansible_port: %s\n      ansible_user: root\n      ansible_python_interpreter: /usr/bin/python3\n      ansible_ssh_private_key_file: %s\n      ansible_ssh_common_args: "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"\n      ozr_engine: "unix://%s"\n' \
        "$i" "${PORTS[$((i - 1))]}" "$S/client_key" "$S/known_hosts" "$ROOT/$i/d.sock"
    done; } >"$inv"
  break_all "$hosts"
  local t0 t1 t2 fixed inspected
  t0=$(ms)
  "${aenv[@]}" ANSIBLE_PIPELINING=$pl ansible-playbook -i "$inv" -f "$forks" -e ozr_action=fix "$A/play.yml" >"$ROOT/ansible-fix.log" || { cat "$ROOT/ansible-fix.log" >&2; exit 1; }
  fixed=$(( $(ms) - t0 ))
  sleep 11
  t1=$(ms)
  "${aenv[@]}" ANSIBLE_PIPELINING=$pl ansible-playbook -i "$inv" -f "$forks" -e ozr_action=inspect "$A/play.yml" >"$ROOT/ansible-inspect.log" || { cat "$ROOT/ansible-inspect.log" >&2; exit 1; }
  inspected=$(( $(ms) - t1 ))
  t2=$(ms)
  "${aenv[@]}" ANSIBLE_PIPELINING=$pl ansible-playbook -i "$inv" -f "$forks" "$A/ping.yml" >"$ROOT/ansible-ping.log" || { cat "$ROOT/ansible-ping.log" >&2; exit 1; }
  echo "$fixed $inspected $(( $(ms) - t2 ))"
}
# hosts parallel -> ms: the engines' own floor, freshly broken hosts stopped and started by the docker CLI,
# PARALLEL at a time (what every fix must pay, without ozrepair).
run_bare() {
  local hosts=$1 par=$2
  break_all "$hosts"
  local t0; t0=$(ms)
  seq 1 "$hosts" | xargs -P "$par" -I{} sh -c 'docker -H "unix://$0/{}/d.sock" stop openzro-management >/dev/null && docker -H "unix://$0/{}/d.sock" start openzro-management >/dev/null' "$ROOT"
  echo $(( $(ms) - t0 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

RUNS=${OZR_BENCH_RUNS:-3}
PIPES=${OZR_BENCH_PIPELINING:-on off}
declare -A fix insp range bare sshi afix ainsp arange aping apingr load
declare -A fixs insps bares sshis afixs   # every run's time, for the records
started=$(date +%s)
for case in $CASES; do
  h=${case%%:*}; p=${case##*:}
  load[$case]=$(cut -d' ' -f1-3 /proc/loadavg)
  f=(); s=(); b=(); t=()
  declare -A af=() ai=() ap=()
  for _ in $(seq 1 "$RUNS"); do
    read -r x y z < <(run_fleet "$h" "$p")
    f+=("$x"); s+=("$y"); t+=("$z")
    if [ "$ANSIBLE" = 1 ]; then
      for pipe in $PIPES; do
        read -r x y z < <(run_ansible "$h" "$p" "$pipe")
        af[$pipe]+="$x "; ai[$pipe]+="$y "; ap[$pipe]+="$z "
      done
    fi
    b+=("$(run_bare "$h" "$p")")
  done
  sshi[$case]=$(printf '%s\n' "${t[@]}" | median)
  if [ "$ANSIBLE" = 1 ]; then
    for pipe in $PIPES; do
      k="$case $pipe"
      afix[$k]=$(printf '%s\n' ${af[$pipe]} | median)
      ainsp[$k]=$(printf '%s\n' ${ai[$pipe]} | median)
      aping[$k]=$(printf '%s\n' ${ap[$pipe]} | median)
      arange[$k]="$(printf '%s\n' ${af[$pipe]} | sort -n | head -n1)–$(printf '%s\n' ${af[$pipe]} | sort -n | tail -n1)"
      apingr[$k]="$(printf '%s\n' ${ap[$pipe]} | sort -n | head -n1)–$(printf '%s\n' ${ap[$pipe]} | sort -n | tail -n1)"
      afixs[$k]="${af[$pipe]% }"
      say "hosts=$h forks=$p pipelining $pipe: ansible fix ${af[$pipe]}ms (median ${afix[$k]}), inspect ${ai[$pipe]}ms, ping ${ap[$pipe]}ms"
    done
    say "hosts=$h: fleet inspect over ssh ${t[*]} ms"
  fi
  unset af ai ap
  fixs[$case]="${f[*]}"; insps[$case]="${s[*]}"; bares[$case]="${b[*]}"; sshis[$case]="${t[*]}"
  bare[$case]=$(printf '%s\n' "${b[@]}" | median)
  fix[$case]=$(printf '%s\n' "${f[@]}" | median)
  insp[$case]=$(printf '%s\n' "${s[@]}" | median)
  range[$case]="$(printf '%s\n' "${f[@]}" | sort -n | head -n1)–$(printf '%s\n' "${f[@]}" | sort -n | tail -n1)"
  say "hosts=$h parallel=$p: fix ${f[*]} ms (median ${fix[$case]}), inspect ${s[*]} ms (median ${insp[$case]}), bare stop+start ${b[*]} ms (median ${bare[$case]})"
done

first=${CASES%% *}
one=${fix[$first]}
mkdir -p docs
{
  echo "# Fleet scaling"
  echo
  echo "Measured by \`scripts/bench-fleet.sh \"$CASES\"\` on $(date -u +%Y-%m-%d): up to $N private Docker engines on"
  echo "one machine ($(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), Docker $(docker version --format '{{.Server.Version}}')), each with the"
  echo "locked-out seed deployment (a crash-looping stand-in); \`ozrepair fleet --inventory … --yes fix\` with the"
  echo "default \`--wait 30\`, which ends early when the server says it is up. Then, untimed against the target, the"
  echo "same fleet's \`inspect\` of the now healthy hosts, 11 s later: what ozrepair itself costs per host (spawning the"
  echo "per-host run, connecting, locating, reading the database) without the engines' stop and start."
  echo "The engines' bare stop+start: the same freshly broken hosts stopped and started by the docker CLI,"
  echo "PARALLEL at a time (xargs -P): the floor every fix stands on. Median of $RUNS runs (range in"
  echo "brackets). Target: 16 hosts at \`--parallel 8\` within 2.5× one host."
  echo
  echo "| hosts | --parallel | fix wall time (ms) | vs 1 host | fix per host (ms) | engines' bare stop+start (ms) | fix vs bare | inspect wall time (ms) | inspect per host (ms) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for case in $CASES; do
    h=${case%%:*}; p=${case##*:}
    awk -v h="$h" -v p="$p" -v t="${fix[$case]}" -v r="${range[$case]}" -v o="$one" -v i="${insp[$case]}" -v b="${bare[$case]}" \
      'BEGIN { printf "| %d | %d | %d (%s) | %.2f | %d | %d | %.2f | %d | %d |\n", h, p, t, r, t/o, t/h, b, t/b, i, i/h }'
  done
  echo
  if [ -n "${fix[16:8]:-}" ]; then
    awk -v t="${fix[16:8]}" -v o="$one" 'BEGIN { r = t/o; printf "16 hosts at --parallel 8: %.2f× one host (target ≤ 2.5×): %s.\n", r, (r <= 2.5) ? "met" : "**not met**" }'
    awk -v t="${bare[16:8]}" -v o="${bare[$first]}" 'BEGIN { printf "The engines alone (bare stop+start, 8 at a time) take %.2f× one host for the same 16 hosts: the target is below their own floor on this machine.\n", t/o }'
    echo
  fi
  if [ "$ANSIBLE" = 1 ]; then
    echo "## The ssh tunnel and the Ansible collection"
    echo
    echo "The same healthy hosts inspected by \`ozrepair fleet\` with every engine reached over \`ssh://root@127.0.0.1:PORT/…/d.sock\`"
    echo "(one throwaway OpenSSH $(ssh -V 2>&1 | sed -n 's/^OpenSSH_\([^ ,]*\).*/\1/p') server per host on loopback, key authentication, as the e2e tests run it):"
    echo "the difference to the local socket is what the tunnel costs (ssh's start, key exchange and authentication, the"
    echo "forwarded socket)."
    echo
    echo "| hosts | --parallel | fleet inspect, local socket (ms) | fleet inspect over ssh (ms) | ssh per host (ms) |"
    echo "|---|---|---|---|---|"
    for case in $CASES; do
      h=${case%%:*}; p=${case##*:}
      awk -v h="$h" -v p="$p" -v i="${insp[$case]}" -v si="${sshi[$case]}" \
        'BEGIN { printf "| %d | %d | %d | %d | %d |\n", h, p, i, si, (si-i)/h*(h<p?h:p) }'
    done
    echo
    echo "\"ssh per host\" is (over ssh − local socket) ÷ hosts × the runs at once: the extra wall time of one host's run."
    echo
    echo "Then the collection's module (\`openzro.ozrepair.ozrepair\`, ansible-core $ansible_version, one persistent ssh"
    echo "connection per host, \`ControlPersist\`) run by a playbook of that one task on every host at \`forks\` PARALLEL,"
    echo "with pipelining on and off: its fix of freshly broken hosts (\`wait: 30\`), after the same settling its inspect"
    echo "of them, then **Ansible's own cost**: the same play with \`ansible.builtin.ping\` instead (the forked worker, the"
    echo "ssh round trips, the module shipped and run by Python on the host; everything but ozrepair). The module runs"
    echo "the same ozrepair binary once per task, with \`-H unix://…\` on the host it reached over ssh."
    echo
    echo "| hosts | forks | pipelining | Ansible fix (ms) | vs 1 host | vs fleet fix | Ansible's own cost, ping (ms) | ping per host (ms) | ping vs 1 host | fix − ping (ms) | Ansible inspect (ms) | inspect per host (ms) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for pipe in $PIPES; do
      aone=${afix[$first $pipe]}; pone=${aping[$first $pipe]}
      for case in $CASES; do
        h=${case%%:*}; p=${case##*:}; k="$case $pipe"
        awk -v h="$h" -v p="$p" -v pipe="$pipe" -v af="${afix[$k]}" -v ar="${arange[$k]}" -v ao="$aone" -v f="${fix[$case]}" \
          -v ap="${aping[$k]}" -v pr="${apingr[$k]}" -v po="$pone" -v ai="${ainsp[$k]}" \
          'BEGIN { printf "| %d | %d | %s | %d (%s) | %.2f | %.2f | %d (%s) | %d | %.2f | %d | %d | %d |\n", h, p, pipe, af, ar, af/ao, af/f, ap, pr, ap/h, ap/po, af-ap, ai, ai/h }'
      done
    done
    echo
    for pipe in $PIPES; do
      if [ -n "${afix[16:8 $pipe]:-}" ]; then
        awk -v t="${afix[16:8 $pipe]}" -v o="${afix[$first $pipe]}" -v pt="${aping[16:8 $pipe]}" -v po="${aping[$first $pipe]}" -v pipe="$pipe" \
          'BEGIN { r = t/o; fl = pt/po; printf "The Ansible collection, 16 hosts at forks 8, pipelining %s: %.2f× one host (target ≤ 2.5×): %s. Ansible alone (ping) takes %.2f× one host for the same 16 hosts (%d ms against %d ms, %.0f ms per host)%s\n", pipe, r, (r <= 2.5) ? "met" : "**not met**", fl, pt, po, pt/16, (fl > 2.5) ? ": the floor under the target, before ozrepair does anything." : "." }'
      fi
    done
    echo
  fi
  echo "Every host is a separate run of ozrepair (stop, verified backup, edit, start, watch), so --parallel"
  echo "overlaps their waiting on the engines. On 2 cores the engines' own work (dockerd and containerd"
  echo "stopping and starting a container, the stand-in's start) is what limits the overlap; the inspect column"
  echo "shows how little of it is ozrepair's."
  if [ "$ANSIBLE" = 1 ]; then
    echo
    echo "Over ssh each host's run starts its own \`ssh -N -L\` (process start, key exchange, authentication, the"
    echo "forwarded socket) before it reaches the engine; ozrepair counts the tunnel as ready when the forwarded"
    echo "socket accepts a connection, looking from 2 ms after ssh starts and backing off to 50 ms"
    echo "(\`docker::endpoint::ssh_tunnel\`). The Ansible"
    echo "collection pays per host what Ansible itself costs: a forked worker, the ssh connection, the module"
    echo "shipped and run by a Python interpreter on the host, which then runs the same ozrepair; at forks 8 on"
    echo "2 cores those Python processes compete with the engines for the CPU, so its fix of 16 hosts is bound by"
    echo "Ansible's per-host work plus the engines', not by ozrepair's."
  fi
  echo
  echo "**Under what load.** The machine is shared: other work ran beside this benchmark. Its load average (1, 5 and"
  echo "15 minutes, on $(nproc) cores) before each case: $(for c in $CASES; do printf '%s: %s; ' "$c" "${load[$c]}"; done)at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "The whole run took $(( ($(date +%s) - started) / 60 )) minutes."
  echo
  echo "**What limits it, in this run** (on $(nproc) cores):"
  for case in $CASES; do
    h=${case%%:*}; p=${case##*:}
    [ "$h" = 1 ] && continue
    awk -v h="$h" -v p="$p" -v f="${fix[$case]}" -v fo="$one" -v b="${bare[$case]}" -v bo="${bare[$first]}" -v i="${insp[$case]}" -v io="${insp[$first]}" \
      'BEGIN { printf "- %d hosts at %d: the fix takes %.2f× one host and the bare stop+start of the engines %.2f× theirs (%d ms against %d ms for one host), so the fix is %.2f× the bare floor; the work of ozrepair itself, the inspect of the same hosts, is %d ms (%.0f ms per host; one host alone: %d ms).\n", h, p, f/fo, b/bo, b, bo, f/b, i, i/h, io }'
  done
  if [ "$ANSIBLE" = 1 ]; then
    for case in $CASES; do
      h=${case%%:*}; p=${case##*:}; k="$case ${PIPES%% *}"
      awk -v h="$h" -v p="$p" -v i="${insp[$case]}" -v si="${sshi[$case]}" -v ai="${ainsp[$k]}" -v ap="${aping[$k]}" -v pipe="${PIPES%% *}" \
        'BEGIN { printf "- %d host%s at %d: the ssh tunnel adds %d ms to the fleet inspect (%d ms against %d ms); by Ansible (pipelining %s) the inspect costs %.0f ms per host and Ansible alone (ping) %.0f ms per host, against %.0f ms by the fleet over ssh.\n", h, (h == 1) ? "" : "s", p, si-i, si, i, pipe, ai/h, ap/h, si/h }'
    done
  fi
  if [ -n "${bare[16:8]:-}" ]; then
    awk -v b="${bare[16:8]}" -v bo="${bare[$first]}" 'BEGIN { r = b / bo; if (r > 2.5) printf "- The target, ≤ 2.5× one host at 16 hosts, is below the engines'"'"' own floor here: their bare stop+start alone takes %.2f× one host.\n", r; else printf "- The engines'"'"' bare stop+start takes %.2f× one host at 16 hosts, within the target: what is above it is the fix'"'"'s own.\n", r }'
  fi
} >docs/BENCHMARKS-fleet.md
cat docs/BENCHMARKS-fleet.md

# The rows of docs/BENCHMARKS.md's table (scripts/bench.sh): the targets of 16 hosts at 8 against one
# host, the engines' floor under them, 64 hosts recorded, and the tool's own cost per host.
if [ -n "${OZR_BENCH_RESULTS:-}" ] && [ -n "${fix[16:8]:-}" ]; then
  rec() { "$HB" record --results "$OZR_BENCH_RESULTS" --order "cases in turn, see BENCHMARKS-fleet.md" "$@"; }
  rec --id fleet16 --what "5a. Fleet fix, 16 hosts at --parallel 8" --ours-label "16 hosts" --ours-ms "${fixs[16:8]}" \
    --base-label "1 host" --base-ms "${fixs[$first]}" --ratio-max 2.5
  rec --id bare16 --what "5b. The engines' bare stop+start under 5a (docker CLI, 8 at a time)" --ours-label "16 hosts" \
    --ours-ms "${bares[16:8]}" --base-label "1 host" --base-ms "${bares[$first]}"
  if [ "$ANSIBLE" = 1 ]; then
    rec --id ansible16 --what "5c. Ansible collection fix, 16 hosts at forks 8 (pipelining ${PIPES%% *})" --ours-label "16 hosts" \
      --ours-ms "${afixs[16:8 ${PIPES%% *}]}" --base-label "1 host" --base-ms "${afixs[$first ${PIPES%% *}]}" --ratio-max 2.5
  fi
  if [ -n "${fix[64:8]:-}" ]; then
    rec --id fleet64 --what "5d. Fleet fix, 64 hosts at --parallel 8 (recorded)" --ours-label "64 hosts" \
      --ours-ms "${fixs[64:8]}" --base-label "1 host" --base-ms "${fixs[$first]}"
    rec --id bare64 --what "5e. The engines' bare stop+start under 5d" --ours-label "64 hosts" \
      --ours-ms "${bares[64:8]}" --base-label "1 host" --base-ms "${bares[$first]}"
  fi
  rec --id tool16 --what "5f. The tool's own cost: fleet inspect of the 16 healthy hosts, local sockets" \
    --ours-ms "${insps[16:8]}"
  if [ "$ANSIBLE" = 1 ]; then
    rec --id ssh16 --what "5g. The same over ssh:// (one OpenSSH server per host on loopback)" --ours-ms "${sshis[16:8]}"
  fi
fi
