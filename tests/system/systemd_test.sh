#!/usr/bin/env bash
# The service under a real systemd: a Debian 12 root of its own (debootstrap), booted with
# systemd as PID 1 of new pid, mount, network, UTS and cgroup namespaces, never over this
# machine's own root (its tmpfiles clean-up would empty the real /tmp). The .deb built
# from BUILD_DIR is installed there with dpkg while systemd runs, and the service is
# driven as an administrator would: start, submit, reload (good and bad configs), the
# watchdog, a memory hog, stop, purge.
#   systemd_test.sh BUILD_DIR
# Root is kept between runs in $PROCPOOL_SYSTEMD_ROOT (default /var/cache/procpool-test/
# bookworm); a root that cannot be made (no debootstrap, no Debian mirror) skips the test
# with a SKIPPED banner, and any other failure fails it.
set -euo pipefail
build=$(cd "$1" && pwd)
root=${PROCPOOL_SYSTEMD_ROOT:-/var/cache/procpool-test/bookworm}
log=$(mktemp -d)
sd=""
# The booted system's cgroup namespace is rooted at this script's own cgroup: what its
# systemd made there outlives it, empty, and is removed.
v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
own_cg=${v2:+$v2$(sed -n 's/^0:://p' /proc/self/cgroup)}
cleanup() {
  if [ -n "$sd" ]; then
    kill -KILL "$sd" 2>/dev/null || true  # PID 1 of its namespace: everything in it dies
    sleep 0.5
    if [ -n "$own_cg" ]; then
      for d in "$own_cg"/*.slice "$own_cg"/*.scope "$own_cg"/*.mount; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
      done
    fi
  fi
  rm -rf "$log"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  if [ -n "$sd" ]; then
    echo "--- journal of procpool.service:" >&2
    inside journalctl -u procpool --no-pager -n 60 >&2 || true
  fi
  exit 1
}
skip() {
  echo "########################################################################"
  echo "SKIPPED: the service was not tested under systemd: $*"
  echo "########################################################################"
  [ -z "${CI:-}" ] || exit 1  # under CI nothing may skip (scripts/test)
  exit 0
}
step() { echo "systemd_test: $*"; }

[ "$(id -u)" -eq 0 ] || skip "booting a systemd of its own needs root"
for tool in debootstrap unshare nsenter chroot; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup installs it)"
done

# --- The root: minimal Debian 12 with systemd, and the package's dependencies --------------
if [ ! -e "$root/.procpool-root-ready" ]; then
  step "debootstrap into $root (about 40 s)"
  rm -rf "$root"
  mkdir -p "$root"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$root" >"$log/debootstrap" 2>&1 ||
    skip "debootstrap could not make a Debian 12 root: $(tail -1 "$log/debootstrap")"
  # No terminals to wait for: the boot reaches running without them.
  chroot "$root" systemctl mask --quiet serial-getty@ttyS0.service getty@tty1.service console-getty.service \
    systemd-firstboot.service
  touch "$root/.procpool-root-ready"
fi
step "building the .deb from $build"
rm -rf "$log/deb"
(cd "$build" && cpack -G DEB -B "$log/deb" >/dev/null)
deb=$(ls "$log"/deb/procpool_*.deb)
cp "$deb" "$root/root/procpool.deb"  # not /tmp: the booted system cleans its /tmp
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Its dependencies from Debian's mirror now, while the root has a network; the package
# itself goes again once systemd runs (its maintainer scripts are what is tested).
chroot "$root" sh -c 'dpkg --purge procpool >/dev/null 2>&1; userdel procpool 2>/dev/null; groupdel procpool 2>/dev/null; true'
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends /root/procpool.deb \
  >"$log/apt" 2>&1 || fail "apt-get install of the .deb's dependencies: $(tail -3 "$log/apt")"
chroot "$root" dpkg --purge procpool >/dev/null
chroot "$root" sh -c 'userdel procpool 2>/dev/null; groupdel procpool 2>/dev/null; true'

rm -rf "$root"/var/log/journal/*  # this run's journal only: greps below see nothing older

# --- Boot -------------------------------------------------------------------------------------
# ROOT becomes a mount point of its own in the new mount namespace (else every service with
# mount hardening fails with 226/NAMESPACE); systemd is told to run the unified (v2)
# hierarchy, as Debian 12 does.
step "booting systemd in namespaces of its own"
cat >"$log/boot" <<'EOF'
#!/bin/sh
set -e
mount --rbind "$1" "$1"
mount --make-rprivate "$1"
exec unshare --root="$1" --mount-proc=/proc env SYSTEMD_PROC_CMDLINE=systemd.unified_cgroup_hierarchy=1 \
  /lib/systemd/systemd
EOF
chmod +x "$log/boot"
unshare -p -f -m -n -u -C "$log/boot" "$root" >"$log/console" 2>&1 &
launcher=$!
for _ in $(seq 100); do
  sd=$(pgrep -P "$launcher" | head -1 || true)
  [ -n "$sd" ] && break
  sleep 0.1
done
[ -n "$sd" ] || fail "systemd did not start: $(tail -5 "$log/console")"
inside() { nsenter -t "$sd" -a -r -w "$@"; }
# True once procpool.service's journal (journalctl's further arguments after the pattern)
# has a line matching PATTERN; journald may take a moment to store what it was sent.
journal_has() {
  local pattern=$1
  shift
  for _ in $(seq 50); do
    inside journalctl --no-pager -u procpool "$@" | grep -q -- "$pattern" && return 0
    sleep 0.1
  done
  return 1
}
state=""
for _ in $(seq 150); do
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case "$state" in running | degraded) break ;; esac
  sleep 0.2
done
case "$state" in running | degraded) ;; *) fail "the system did not boot (state '$state'): $(inside systemctl list-jobs --no-pager 2>&1 | head)" ;; esac
step "booted ($state) as host pid $sd"

# --- Install: the maintainer scripts make the user and start the service -------------------
inside systemd-analyze log-level debug  # systemd logs each notification it gets
inside dpkg -i /root/procpool.deb >"$log/dpkg" 2>&1 || fail "dpkg -i: $(tail -5 "$log/dpkg")"
inside getent passwd procpool >/dev/null || fail "postinst made no procpool user"
inside systemctl is-enabled --quiet procpool || fail "postinst did not enable the service"
for _ in $(seq 50); do
  inside systemctl is-active --quiet procpool && break
  sleep 0.1
done
[ "$(inside systemctl is-active procpool)" = active ] || fail "the service is $(inside systemctl is-active procpool)"
step "installed, enabled, active: $(inside systemctl show -p StatusText --value procpool)"

socket=/run/procpool/procpool.sock
submit() { inside procpool submit --socket "$socket" "$@"; }
out=$(submit sleep 10 20) || fail "submit: $out"
[ "$(grep -c '"status":"ok"' <<<"$out")" = 2 ] || fail "two sleeps should be ok: $out"

# --- Containment under systemd: a cgroup per worker below the service's --------------------
service_cg=/sys/fs/cgroup$(inside systemctl show -p ControlGroup --value procpool)
pool_cg=$service_cg/procpool-$(inside systemctl show -p MainPID --value procpool)
inside test -d "$pool_cg" || fail "no cgroup of the pool's under $service_cg: $(inside journalctl -u procpool --no-pager | grep serving)"
for w in w0 w1; do
  [ -n "$(inside cat "$pool_cg/$w/cgroup.procs")" ] || fail "no worker in $pool_cg/$w"
done
inside systemd-cgls --no-pager -u procpool.service | grep -q "w0" ||
  fail "systemd-cgls does not show the workers' cgroups: $(inside systemd-cgls --no-pager -u procpool.service)"
step "each worker in its own cgroup: $pool_cg/w0, w1"

# --- Reload: a resize applied, a bad config refused, no task lost ---------------------------
# The root's files are this machine's files too (ROOT is bind-mounted): written from here.
config=$root/etc/procpool/procpool.toml
cp "$config" "$log/procpool.toml.orig"
printf '[pool]\nworkers = 3\n' >"$config"
submit sleep 500 500 500 500 >"$log/across_reload" &
submitter=$!
sleep 0.2
inside systemctl reload procpool || fail "systemctl reload: $(inside journalctl -u procpool --no-pager | tail -3)"
journal_has "reloaded the configuration: 3 workers" || fail "the reload did not resize to 3 workers"
wait "$submitter" || fail "the submit across the reload failed"
[ "$(grep -c '"status":"ok"' "$log/across_reload")" = 4 ] || fail "tasks across the reload: $(cat "$log/across_reload")"
# What systemd heard from the service, in order (its debug log names each notification).
journal_has "Reloaded procpool.service" || fail "systemd did not finish the reload"
heard=$(inside journalctl --no-pager -u procpool | grep -o 'Got notification message from PID [0-9]* ([A-Z]*=1' | sed 's/.*(//')
grep -A1 '^RELOADING=1$' <<<"$heard" | grep -q '^READY=1$' ||
  fail "systemd did not hear RELOADING=1 then READY=1: $(tr '\n' ' ' <<<"$heard")"
step "reload resized the pool to 3 workers (systemd heard RELOADING=1, READY=1); the 4 tasks submitted across it all ok"
printf '[pool]\nworkers = "many"\n' >"$config"
inside systemctl reload procpool || true
journal_has "reload refused, the running configuration stays" || fail "a bad config on reload: no refusal in the journal"
[ "$(inside systemctl is-active procpool)" = active ] || fail "a bad config on reload stopped the service"
cp "$log/procpool.toml.orig" "$config"  # (submit reads it too, and would refuse it)
out=$(submit sleep 10) || fail "submit after a refused reload: $out"
grep -q '"status":"ok"' <<<"$out" || fail "after a refused reload: $out"
busy_slots=$(inside sh -c "for w in $pool_cg/w*; do read -r p < \$w/cgroup.procs && echo \$w; done; true" | wc -l)  # (cgroup files are of size 0)
[ "$busy_slots" = 3 ] || fail "the refused reload did not keep the 3 workers: $busy_slots worker cgroups hold one"
step "a bad config on reload is refused and logged, the 3 workers stay: $(inside journalctl -u procpool --no-pager | grep -m1 'reload refused' | sed 's/.*reload refused/reload refused/')"

# --- Logs: priorities in the journal ------------------------------------------------------------
worker_pid=$(inside cat "$pool_cg/w0/cgroup.procs" | head -1)
inside sh -c "kill -KILL $worker_pid"  # the shell's kill: a minimal Debian has no /bin/kill
journal_has "pid $worker_pid) ended: killed by SIGKILL" -p warning ||
  fail "a worker's death is not a warning in the journal: $(inside journalctl -u procpool --no-pager | tail -3)"
inside journalctl -u procpool -o json --no-pager | grep "pid $worker_pid) ended" | grep -q '"PRIORITY":"4"' ||
  fail "the death's journal entry is not PRIORITY 4 (warning)"
step "a killed worker is a warning in the journal (PRIORITY 4)"

# --- A memory hog is stopped by the worker's limit, not by killing the service ----------------
cat >"$config" <<'EOF'
[pool]
hard-memory-per-child = "64M"

[exec]
command = ["/bin/sh", "-c", "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo ${#x}", "hog", "{}"]
EOF
inside systemctl restart procpool
hog=$(submit exec 1) || true
grep -q '"status":"crashed"' <<<"$hog" || fail "the memory hog was not stopped: $hog"
grep -q "RSS, over the hard limit" <<<"$hog" || fail "the hog's result does not name the memory limit: $hog"
[ "$(inside systemctl is-active procpool)" = active ] || fail "the memory hog took the service down"
out=$(submit sleep 10) || fail "submit after the hog: $out"
step "a memory hog is stopped by the worker's limit: $(grep -o '"error":"[^"]*"' <<<"$hog" | head -1)"
cp "$log/procpool.toml.orig" "$config"

# --- The watchdog: a stalled supervisor is killed and restarted; results kept once -------------
# A short watchdog, and SIGKILL soon after the watchdog's SIGABRT (which a stopped process
# cannot act on): the default TimeoutAbortSec is TimeoutStopSec, 90 s.
mkdir -p "$root/etc/systemd/system/procpool.service.d"
printf '[Service]\nWatchdogSec=3\nTimeoutAbortSec=2\n' >"$root/etc/systemd/system/procpool.service.d/watchdog.conf"
inside systemctl daemon-reload
inside systemctl restart procpool
out=$(submit sleep 11 12 13) || fail "submit before the stall: $out"
[ "$(grep -c '"status":"ok"' <<<"$out")" = 3 ] || fail "before the stall: $out"
main=$(inside systemctl show -p MainPID --value procpool)
inside sh -c "kill -STOP $main"
restarted=""
for _ in $(seq 150); do
  now=$(inside systemctl show -p MainPID --value procpool)
  if [ "$now" != "$main" ] && [ "$now" != 0 ] && inside systemctl is-active --quiet procpool; then
    restarted=$now
    break
  fi
  sleep 0.1
done
[ -n "$restarted" ] || fail "the stalled supervisor (pid $main) was not restarted by the watchdog"
journal_has "Watchdog timeout" || fail "the journal has no watchdog timeout"
out=$(submit sleep 10) || fail "submit after the watchdog's restart: $out"
results=$(cat "$root/var/lib/procpool/results.jsonl")
for input in 11 12 13; do
  n=$(grep -c "\"input\":\"$input\"" <<<"$results" || true)
  [ "$n" = 1 ] || fail "the result of sleep $input is in the results log $n times, not once"
done
step "a SIGSTOPped supervisor is killed by the watchdog and restarted (pid $main -> $restarted)"
rm "$root/etc/systemd/system/procpool.service.d/watchdog.conf"
inside systemctl daemon-reload

# --- Stop: running tasks finish, nothing of the service is left, the socket goes --------------
inside systemctl restart procpool
submit sleep 2000 >"$log/during_stop" &
submitter=$!
sleep 0.5
inside systemctl stop procpool
wait "$submitter" || true
grep -q '"status":"ok"' "$log/during_stop" || fail "a task running at stop did not finish: $(cat "$log/during_stop")"
left=$(inside sh -c "cat $service_cg/cgroup.procs $service_cg/*/cgroup.procs $service_cg/*/*/cgroup.procs 2>/dev/null" || true)
[ -z "$left" ] || fail "processes of the service left after stop: $left"
inside test ! -e "$socket" || fail "the socket is left after stop"
journal_has 'Got notification message from PID [0-9]* (STOPPING=1' || fail "systemd did not hear STOPPING=1 at stop"
step "stop: STOPPING=1, the running task finished, no process left, the socket removed"

# --- Hardening -------------------------------------------------------------------------------
exposure=$(inside systemd-analyze security --no-pager procpool.service | tail -1)
step "systemd-analyze security: $exposure"
case "$exposure" in *" SAFE"* | *" OK"*) ;; *) fail "the unit's exposure is worse than OK: $exposure" ;; esac

# --- Purge: everything the package installed is gone ------------------------------------------
inside systemctl start procpool
inside dpkg --purge procpool >"$log/purge" 2>&1 || fail "dpkg --purge: $(tail -3 "$log/purge")"
inside systemctl is-active --quiet procpool && fail "the service runs after purge"
for f in /usr/bin/procpool /usr/lib/systemd/system/procpool.service /etc/procpool/procpool.toml /var/lib/procpool; do
  inside test ! -e "$f" || fail "$f is left after purge"
done
step "purge: stopped, and its files, config and results removed (the procpool user is kept, as Debian does for system users)"
echo "systemd_test: ok"
