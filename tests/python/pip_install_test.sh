#!/usr/bin/env bash
# `pip install .` as a Python user does it, into a fresh virtual environment (offline:
# --no-build-isolation, Debian's setuptools in the venv), then a task through the installed
# package from outside the source tree, by the venv's own python. The extension is built
# in BUILD_DIR (already built by then: the test checks the packaging, not the compiler).
#   pip_install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Debian's setuptools and wheel (python3-wheel) build it: a venv that sees the system's
# packages, as no index is reached for them.
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
# pip builds in the tree (setuptools' own files under build/, the egg-info ignored by git).
PROCPOOL_BUILD_DIR=$build "$tmp/venv/bin/pip" install --no-build-isolation --no-index -q "$src" >"$tmp/pip.log" 2>&1 ||
  { cat "$tmp/pip.log" >&2; fail "pip install"; }
cat > "$tmp/user.py" <<'PY'
import os
import signal
import procpool
from procpool import ProcessPoolExecutor, TaskCrashed

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    assert "venv" in procpool.__file__, procpool.__file__
    with ProcessPoolExecutor(2) as pool:
        print(sum(pool.map(abs, range(-10, 0))))
        try:
            pool.submit(die).result()
        except TaskCrashed:
            print("crashed")
PY
out=$(cd "$tmp" && "$tmp/venv/bin/python" user.py) || fail "the installed package: $out"
[ "$out" = $'55\ncrashed' ] || fail "the installed package printed: $out"
echo "ok: pip install into a venv, $(ls "$tmp"/venv/lib/python3*/site-packages/procpool/ | tr '\n' ' ')"
