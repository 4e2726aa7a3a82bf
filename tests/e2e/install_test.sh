#!/usr/bin/env bash
# cmake --install into a temporary prefix, then build and run a separate project that finds
# procpool with find_package(procpool) and runs a task of its own in worker processes.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# The man pages and completions go where man and the shells look under the prefix.
for f in share/man/man1/procpool.1 share/man/man1/procpool-run.1 share/bash-completion/completions/procpool \
         share/zsh/site-functions/_procpool share/fish/vendor_completions.d/procpool.fish; do
  [ -s "$tmp/prefix/$f" ] || { echo "install_test: $f was not installed" >&2; exit 1; }
done
MANPATH="$tmp/prefix/share/man" man -w procpool-run >/dev/null
cmake -S "$source/tests/e2e/outside_project" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" -j2 >/dev/null
out=$("$tmp/build/uses_procpool")
echo "$out"
[ "$out" = "total 30" ]
