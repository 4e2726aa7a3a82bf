#!/usr/bin/env bash
# The .deb: built by CPack from this build, its control data (dependencies, conffile,
# maintainer scripts), and its files unpacked and used: the executable runs a thumbnail
# through its module under /usr/lib/procpool, the shipped config passes check-config,
# and the unit (pointing at the unpacked executable) passes systemd-analyze verify.
# Installing it for real needs systemd as PID 1 (docs/USAGE.md, "Install as a service").
#   package_test.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/out" >/dev/null)
deb=$(ls "$tmp"/out/procpool_*_*.deb)
info=$(dpkg-deb -I "$deb")
for dep in libmagick++ libcurl4 libspdlog adduser; do
  grep -q "^ Depends:.*$dep" <<<"$info" || fail "Depends lacks $dep: $(grep Depends <<<"$info")"
done
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/procpool/procpool.toml ] || fail "conffiles"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "$script missing or not executable"
  sh -n "$tmp/control/$script" || fail "$script does not parse"
done
grep -q "adduser --system --group" "$tmp/control/postinst" || fail "postinst creates no user"

root=$tmp/root
dpkg-deb -x "$deb" "$root"
for f in usr/bin/procpool usr/lib/procpool/procpool_magick.so usr/lib/procpool/procpool_http.so \
         usr/lib/systemd/system/procpool.service etc/procpool/procpool.toml usr/share/doc/procpool/README.md \
         usr/include/procpool/procpool/pool.hpp usr/lib/cmake/procpool/procpoolConfig.cmake \
         usr/share/man/man1/procpool.1 usr/share/man/man1/procpool-run.1 \
         usr/share/bash-completion/completions/procpool usr/share/zsh/vendor-completions/_procpool \
         usr/share/fish/vendor_completions.d/procpool.fish; do
  [ -e "$root/$f" ] || fail "$f is not in the package"
done
exe=$root/usr/bin/procpool
"$exe" check-config "$root/etc/procpool/procpool.toml" >/dev/null 2>&1 || fail "the shipped config does not check"
/usr/bin/python3 -c "from PIL import Image; Image.new('RGB', (640, 480), (200, 30, 30)).save('$tmp/red.png')"
"$exe" run thumbnail --size 64x64 --out "$tmp/thumbs" --no-summary "$tmp/red.png" || fail "the packaged thumbnail kind"
[ -s "$tmp/thumbs/red_thumbnail.png" ] || fail "no thumbnail: $(ls "$tmp/thumbs")"
# The Python package, for Debian's python3, from the unpacked tree: a task through it.
site=$(ls -d "$root"/usr/lib/python3.*/dist-packages)
ls "$site"/procpool/_procpool.*.so >/dev/null 2>&1 || fail "the Python package's extension is not in the package"
answer=$(cd "$tmp" && PYTHONPATH=$site /usr/bin/python3 -c \
  'from procpool import ProcessPoolExecutor
if __name__ == "__main__":
    with ProcessPoolExecutor(1) as pool: print(pool.submit(pow, 2, 10).result(timeout=60))') ||
  fail "the packaged Python package"
[ "$answer" = 1024 ] || fail "the packaged Python package answered $answer"
unit=$root/usr/lib/systemd/system/procpool.service
grep -q "^ExecStart=/usr/bin/procpool serve" "$unit" || fail "the unit does not start /usr/bin/procpool"
grep -q "^ExecReload=" "$unit" || fail "the unit cannot reload"
sed "s|/usr/bin/procpool|$exe|" "$unit" > "$tmp/procpool.service"
out=$(systemd-analyze verify "$tmp/procpool.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify remarks: $out"
echo "ok: $(basename "$deb"), $(du -h "$deb" | cut -f1)"
