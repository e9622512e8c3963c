#!/usr/bin/env bash
# The whole suite: formatting and lints, unit tests, and the end-to-end tests that drive the real ozrepair
# binary against real engines (each test starts a private dockerd or Podman service of its own), a real
# systemd and journald (a booted Debian root per test), the stand-in built from the real Go libraries, and
# Ansible over real SSH.
#
#   scripts/test.sh            everything
#   scripts/test.sh e2e_fix    only the tests whose name matches (passed on to cargo test)
set -euo pipefail
cd "$(dirname "$0")/.."
# apt_get and apt_update: apt-get that waits for the dpkg lock instead of failing.
. scripts/lib/apt.sh

# A full disk fails tests in ways that say nothing of it (a 1 GiB database and its backups, each test's
# private engine root, the build from scratch on a fresh clone: about 10 GiB at the peak), so it is said
# first.
for dir in "${TMPDIR:-/tmp}" .; do
  free_kib=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
  if [ "${free_kib:-0}" -lt $((10 * 1024 * 1024)) ]; then
    echo "test.sh: only $((free_kib / 1024 / 1024)) GiB free under $dir; the suite needs about 10 GiB (build, engines, a 1 GiB database and its backups); nothing was run; free some space and run it again" >&2
    exit 1
  fi
done

# The end-to-end tests need dockerd; this installs it when it is missing (root + apt-get) and makes sure
# the local engine answers. Without an engine they fail: they never skip.
scripts/docker-up.sh
# The fleet tests reach an engine over SSH through a throwaway OpenSSH server on loopback.
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's openssh-server and openssh-client (apt-get)" >&2
    apt_get install -y -qq openssh-server openssh-client >/dev/null \
      || { apt_update && apt_get install -y -qq openssh-server openssh-client >/dev/null; }
  else
    echo "test.sh: the fleet tests need /usr/sbin/sshd and ssh (Debian: openssh-server, openssh-client)" >&2
    exit 1
  fi
fi

# The Podman tests start a private `podman system service` per test (Debian's podman; uidmap for rootless;
# the rootless tests create a user with useradd, run as it with runuser and end its processes with pkill).
if ! command -v podman >/dev/null 2>&1 || ! command -v newuidmap >/dev/null 2>&1 \
   || ! command -v pkill >/dev/null 2>&1 || ! command -v useradd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's podman, uidmap, procps and passwd (apt-get)" >&2
    apt_get install -y -qq podman uidmap procps passwd >/dev/null \
      || { apt_update && apt_get install -y -qq podman uidmap procps passwd >/dev/null; }
  else
    echo "test.sh: the Podman tests need podman, newuidmap, pkill and useradd (Debian: podman, uidmap, procps, passwd)" >&2
    exit 1
  fi
fi

# The Ansible tests run Debian's ansible (ansible-core 2.14 with the community collections) over SSH; the
# collection's own checks (scripts/ansible-test.sh) run ansible-core, ansible-lint and ansible-test from PyPI.
if ! command -v ansible-playbook >/dev/null 2>&1 || ! command -v ansible-galaxy >/dev/null 2>&1 \
   || ! command -v ansible-vault >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's ansible (apt-get)" >&2
    apt_get install -y -qq ansible >/dev/null || { apt_update && apt_get install -y -qq ansible >/dev/null; }
  else
    echo "test.sh: the Ansible tests need ansible-playbook, ansible-galaxy and ansible-vault (Debian: ansible)" >&2
    exit 1
  fi
fi

# The operator suite (tests/suite/operator.rs): man pages rendered by man-db's man and linted by mandoc,
# a real terminal from util-linux's script (bsdutils) and setpriv, the .rpm installed by rpm into a root of
# its own (the .deb by dpkg, always there).
if ! command -v mandoc >/dev/null 2>&1 || ! command -v man >/dev/null 2>&1 || ! command -v rpm >/dev/null 2>&1 \
   || ! command -v script >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's mandoc, man-db, rpm, bsdutils and util-linux (apt-get)" >&2
    apt_get install -y -qq mandoc man-db rpm bsdutils util-linux >/dev/null \
      || { apt_update && apt_get install -y -qq mandoc man-db rpm bsdutils util-linux >/dev/null; }
  else
    echo "test.sh: the operator tests need mandoc, man, rpm, script and setpriv (Debian: mandoc, man-db, rpm, bsdutils, util-linux)" >&2
    exit 1
  fi
fi

# The store tests start private PostgreSQL and MariaDB servers (Debian's postgresql, mariadb-server).
scripts/lib/db-servers.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The collection as Galaxy checks it: ansible-lint, ansible-test sanity and units, ansible-doc of every
# module and role, the generated changelog (ansible-core and the rest from PyPI, in a virtualenv cached
# outside the repository).
scripts/ansible-test.sh
# The systemd tests boot a minimal Debian root with systemd-nspawn (Debian's debootstrap and
# systemd-container, installed when missing): built once per set of inputs and cached outside the
# repository (/var/cache/ozrepair/systemd-root), so only the first run on a machine spends its minutes;
# machines an interrupted run left behind are swept.
scripts/systemd-machine.sh root >/dev/null
scripts/systemd-machine.sh sweep
scripts/build-standin.sh
# The stand-in built from the real Go libraries, also the Go checker of connector configs (installs Debian's
# golang-1.23-go from bookworm-backports and the libraries when missing).
scripts/build-standin-go.sh
scripts/build-yamlcheck-go.sh
scripts/build-static.sh
# The .deb, the .rpm and their sha256 files around that binary (installs the packagers from crates.io into
# a cache outside the repository the first time).
OZR_STATIC_BUILT=1 scripts/build-packages.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
OZR_STANDIN_BUILT=1 OZR_STATIC_BUILT=1 OZR_PACKAGES_BUILT=1 cargo test --workspace --lib --bins --tests -- --test-threads="${OZR_TEST_THREADS:-2}" "$@" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "ozrepair: %d passed, %d failed\n", p, f }' "$log"
exit "$code"
