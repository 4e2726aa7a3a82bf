#!/usr/bin/env bash
# cmake --install into a temporary prefix, then build and run a separate project that finds
# procpool with find_package(procpool) and runs a task of its own in worker processes.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$source/tests/e2e/outside_project" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" -j2 >/dev/null
out=$("$tmp/build/uses_procpool")
echo "$out"
[ "$out" = "total 30" ]
