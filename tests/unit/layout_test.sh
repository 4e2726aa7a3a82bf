#!/usr/bin/env bash
# scripts/check-layout passes on the tree, and fails, naming the file, the line and the
# rule, on a scratch copy with deliberate violations: the engine including the child's
# task API, the config naming a kind, an observer including the batch job, a file left
# loose in supervisor/, a function of the engine over 60 lines.
#   layout_test.sh SOURCE_DIR
set -euo pipefail
source=$1
check="$source/scripts/check-layout"
"$check" "$source"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in ipc child supervisor procpool; do cp -r "$source/$d" "$tmp/$d"; done
"$check" "$tmp" >/dev/null  # the copy is clean too
printf '#include "child/task_api.hpp"\n' >>"$tmp/supervisor/engine/loop.cpp"
printf 'bool f(const std::string& kind) { return kind == "thumbnail"; }\n' >>"$tmp/supervisor/config/config.cpp"
printf '#include "supervisor/batch/run.hpp"\n' >>"$tmp/supervisor/observe/status.cpp"
printf '// loose\n' >"$tmp/supervisor/loose.cpp"
{ echo "void too_long() {"; for i in $(seq 61); do echo "  ;"; done; echo "}"; } >>"$tmp/supervisor/engine/resize.cpp"
status=0
out=$("$check" "$tmp" 2>&1) || status=$?
echo "$out"
[ "$status" = 1 ] || { echo "layout_test: check-layout passed a tree that breaks its rules" >&2; exit 1; }
for expected in \
  "supervisor/engine/loop.cpp:[0-9]*: supervisor/engine/ may not include child/task_api.hpp" \
  "supervisor/config/config.cpp:[0-9]*: compares a kind's name with a literal" \
  "supervisor/observe/status.cpp:[0-9]*: supervisor/observe/ may not include supervisor/batch/run.hpp" \
  "supervisor/loose.cpp: in no area" \
  "supervisor/engine/resize.cpp:[0-9]*: a function of 63 lines"; do
  grep -q "$expected" <<<"$out" || { echo "layout_test: no report of: $expected" >&2; exit 1; }
done
echo "layout_test: every violation was reported"
