#!/usr/bin/env bash
# The Ansible collection checked as a Galaxy maintainer checks it, on a copy of ansible/ laid out as
# ansible_collections/openzro/ozrepair/ (ansible-test needs that path):
#   lint       ansible-lint (production profile, ansible/.ansible-lint)
#   sanity     ansible-test sanity (validate-modules, yamllint, pep8, pylint, import, compile, ansible-doc,
#              changelog, runtime-metadata and the rest), each test in the virtualenv ansible-test makes
#   units      ansible-test units (the modules against ozrepair's recorded JSON answers; the role, its
#              defaults and the module's options held to each other)
#   doc        ansible-doc of every module and of the role, by this ansible-core and by Debian's (the one
#              the end-to-end tests run)
#   changelog  CHANGELOG.md is what antsibull-changelog generates from changelogs/
# ansible-core, ansible-lint, antsibull-changelog and the units' packages come from PyPI (scripts/ansible-test/
# requirements.txt) into a virtualenv cached outside the repository, under /var/cache/ozrepair/ansible-test/
# KEY (KEY: a hash of the requirements and the Python version), so a clean clone reuses it; ansible-test's
# own virtualenvs go under it too (its HOME).
#
#   scripts/ansible-test.sh [lint] [sanity] [units] [doc] [changelog]     (default: all five)
#   OZR_ANSIBLE_TEST_CACHE=DIR      the cache's root (default /var/cache/ozrepair/ansible-test)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
REQ=scripts/ansible-test/requirements.txt
PY=/usr/bin/python3
STEPS=${*:-lint sanity units doc changelog}
say() { printf 'ansible-test.sh: %s\n' "$*" >&2; }
elapsed() { echo $(( $(date +%s) - $1 )); }

# Debian's Python (the version ansible-core 2.19 supports) with its venv module.
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's python3-venv (apt-get)"
    . scripts/lib/apt.sh
    apt_get install -y -qq python3 python3-venv >/dev/null \
      || { apt_update && apt_get install -y -qq python3 python3-venv >/dev/null; }
  else
    say "needs $PY with its venv module (Debian: python3-venv)"; exit 1
  fi
fi

ROOT=${OZR_ANSIBLE_TEST_CACHE:-/var/cache/ozrepair/ansible-test}
KEY=$({ cat "$REQ"; "$PY" --version; } | sha256sum | cut -c1-12)
CACHE=$ROOT/$KEY
VENV=$CACHE/venv
mkdir -p "$ROOT"
# One run at a time makes a virtualenv; a half-made one (no marker) is made again.
exec 9>"$ROOT/.lock"
flock 9
if [ ! -f "$CACHE/ready" ]; then
  t0=$(date +%s)
  say "making the virtualenv $VENV from $REQ (pip, PyPI)"
  rm -rf "$CACHE"
  mkdir -p "$CACHE/home"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$CACHE/requirements.txt"
  touch "$CACHE/ready"
  say "virtualenv made in $(elapsed "$t0") s"
fi
# ansible-test downloads a pip bootstrap script from its own CI file server for the virtualenvs of its sanity
# tests; this machine reaches PyPI only, so the cached copy it looks for first is our stand-in, which
# installs that pip with ensurepip and pip (scripts/ansible-test/get_pip.py).
pipv=$(sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" "$VENV"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py)
[ -n "$pipv" ] || { say "cannot read the pip version ansible-test bootstraps"; exit 1; }
mkdir -p "$CACHE/home/.ansible/test/cache"
cp scripts/ansible-test/get_pip.py "$CACHE/home/.ansible/test/cache/get_pip_${pipv//./_}.py"
flock -u 9

work=$(mktemp -d /tmp/ozr-ansible-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
COLL=$work/ansible_collections/openzro/ozrepair
mkdir -p "$COLL"
cp -a ansible/. "$COLL/"
rm -rf "$COLL/tests/output"
# ansible-test's per-test virtualenvs live in ~/.ansible/test/venv: HOME is the cache's.
tenv=(env HOME="$CACHE/home" PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$work" ANSIBLE_NOCOLOR=1
  ANSIBLE_LOCAL_TEMP="$work/tmp" PYTHONDONTWRITEBYTECODE=1 PYTHONWARNINGS="ignore:DSA is deprecated")
PYV=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

for step in $STEPS; do
  t0=$(date +%s)
  case $step in
    lint)
      (cd "$COLL" && "${tenv[@]}" XDG_CACHE_HOME="$CACHE/home/.cache" ansible-lint -q --offline --nocolor) \
        || { say "ansible-lint found problems in ansible/"; exit 1; }
      ;;
    sanity)
      (cd "$COLL" && "${tenv[@]}" ansible-test sanity --color no --python "$PYV") \
        || { say "ansible-test sanity failed"; exit 1; }
      ;;
    units)
      (cd "$COLL" && "${tenv[@]}" ansible-test units --color no --python "$PYV") \
        || { say "ansible-test units failed"; exit 1; }
      ;;
    doc)
      # Every module and the role render, by this ansible-core and by Debian's (/usr/bin, the e2e tests').
      for doc in "$VENV/bin/ansible-doc" /usr/bin/ansible-doc; do
        [ -x "$doc" ] || { say "no $doc (scripts/test.sh installs Debian's ansible)"; exit 1; }
        for m in "$COLL"/plugins/modules/*.py; do
          name=openzro.ozrepair.$(basename "$m" .py)
          out=$("${tenv[@]}" "$doc" -t module "$name" 2>&1) || { say "$doc cannot render $name:"; echo "$out" >&2; exit 1; }
          grep -q "OPTIONS" <<<"$out" || { say "$doc $name rendered no options:"; echo "$out" >&2; exit 1; }
        done
        for r in "$COLL"/roles/*/; do
          name=openzro.ozrepair.$(basename "$r")
          out=$("${tenv[@]}" "$doc" -t role "$name" 2>&1) || { say "$doc cannot render the role $name:"; echo "$out" >&2; exit 1; }
          grep -q "ozrepair_action" <<<"$out" || { say "$doc -t role $name rendered no options:"; echo "$out" >&2; exit 1; }
        done
      done
      ;;
    changelog)
      (cd "$COLL" && "${tenv[@]}" antsibull-changelog lint && "${tenv[@]}" antsibull-changelog generate) \
        || { say "antsibull-changelog failed"; exit 1; }
      cmp -s "$COLL/CHANGELOG.md" ansible/CHANGELOG.md \
        || { say "ansible/CHANGELOG.md is not what antsibull-changelog generates from ansible/changelogs/ (run it in ansible/):";
             diff -u ansible/CHANGELOG.md "$COLL/CHANGELOG.md" >&2 || true; exit 1; }
      ;;
    *) say "unknown step $step (lint, sanity, units, doc, changelog)"; exit 2 ;;
  esac
  say "$step passed in $(elapsed "$t0") s"
done
cd "$REPO"
