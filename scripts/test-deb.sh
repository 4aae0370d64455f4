#!/usr/bin/env bash
# The Debian package in a real Debian root: debootstrap SUITE (bookworm or
# bullseye, the Raspberry Pi OS glibc), then inside it, as a household would:
#   apt install ./hearth_<previous>.deb   resolves systemd & co. and installs;
#   the hearth user (in dialout), /var/lib/hearth, /etc/hearth/hearth.toml
#   as declared; hearth --version, config check, systemd-analyze verify;
#   the hub started as the service user (in its own network namespace, as
#   the unit would: $STATE_DIRECTORY, $CONFIGURATION_DIRECTORY, sd_notify)
#   reaches READY; a household, a device and its history are made with the
#   CLI and the Blynk HTTP API (curl --cacert with the hub's own authority);
#   apt install ./hearth_<this>.deb upgrades it: the edited configuration,
#   household, device and history are kept and a backup is taken before the
#   migration; apt remove keeps the state, apt purge removes it; lintian
#   reports no errors or warnings.
#
# No earlier release has an older schema, so the "previous version" is this
# binary packaged as 0.0.1~previous, and before the upgrade its state is
# taken back to schema 6 as a hearth from before migration 7 left it (the
# device_properties and value_journal tables dropped): the upgrade then
# migrates for real.
#
# Runs the amd64 package natively. The arm64 and armhf packages need a
# foreign root, which needs binfmt_misc (absent in this sandbox): this script
# refuses other architectures rather than pretending.
#
# Usage: scripts/test-deb.sh [SUITE]   (default bookworm; needs root and
#   target/x86_64-unknown-linux-gnu/release/hearth, scripts/build-release.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:-bookworm}
readonly mirror=http://deb.debian.org/debian
readonly email=admin@example.org
readonly password=correct-horse-battery-staple
readonly deadline_secs=90
[ "$(id -u)" -eq 0 ] || { echo "test-deb: needs root (debootstrap, chroot)" >&2; exit 2; }
# Every mount below (/proc, /sys, /dev into the root) stays in a mount
# namespace of this script's own: nothing propagates to the host, and it all
# goes when the script ends, whatever happens.
if [ -z "${HEARTH_TEST_DEB_NAMESPACE:-}" ]; then
    HEARTH_TEST_DEB_NAMESPACE=1 exec unshare --mount --propagation private -- "$0" "$@"
fi

step_start=$SECONDS
say() { printf 'test-deb[%s] %3ds %s\n' "$suite" $((SECONDS - step_start)) "$*"; }
fail() { printf 'test-deb[%s]: FAILED: %s\n' "$suite" "$*" >&2; exit 1; }

work=$(mktemp -d /var/tmp/hearth-deb.XXXXXX)
root=$work/root
hub_pid=""
notify_pid=""
cleanup() {
    [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null || true
    [ -n "$notify_pid" ] && kill "$notify_pid" 2>/dev/null || true
    for m in dev/pts dev sys proc; do umount -l "$root/$m" 2>/dev/null || true; done
    # Never delete through a mount that is still there (/sys, /dev).
    if grep -q " $work/" /proc/mounts; then
        echo "test-deb: $work still has mounts; left in place" >&2
    else
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT

in_root() {
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}

# --- the packages ------------------------------------------------------------
previous=0.0.1~previous
current=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
scripts/package-deb.sh --out "$work" --version "$previous" amd64 >/dev/null
scripts/package-deb.sh --out "$work" amd64 >/dev/null
old_deb=$work/hearth_${previous}_amd64.deb
new_deb=$work/hearth_${current}_amd64.deb
say "packages built"
for deb in "$old_deb" "$new_deb"; do
    if lintian --fail-on error,warning "$deb" > "$work/lintian.txt" 2>&1; then
        say "lintian: $(basename "$deb") clean"
    else
        cat "$work/lintian.txt" >&2
        fail "lintian reports on $(basename "$deb")"
    fi
done

# --- a Debian root -------------------------------------------------------------
debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap $suite"; }
mount -t proc proc "$root/proc"
# systemd 247's `systemd-analyze verify` asks which cgroup it runs in.
mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$old_deb" "$new_deb" "$root/tmp/"
say "debootstrap $suite done"

# --- install the previous version ------------------------------------------------
in_root apt-get update -qq
in_root apt-get install -y -qq "/tmp/$(basename "$old_deb")" > "$work/apt.log" 2>&1 \
    || { tail -30 "$work/apt.log" >&2; fail "apt install of the previous package"; }
in_root dpkg-query -W -f='${Status}\n' systemd | grep -q "install ok installed" \
    || fail "apt did not resolve the dependency on systemd"
say "apt install ./$(basename "$old_deb"): installed with its dependencies"

passwd_line=$(in_root getent passwd hearth) || fail "no hearth user"
uid=$(echo "$passwd_line" | cut -d: -f3)
gid=$(echo "$passwd_line" | cut -d: -f4)
[ "$uid" -lt 1000 ] || fail "hearth is not a system user (uid $uid)"
case "$(echo "$passwd_line" | cut -d: -f7)" in
*/nologin | */false) ;;
*) fail "the hearth user has a login shell: $passwd_line" ;;
esac
in_root getent group hearth > /dev/null || fail "no hearth group"
in_root id -nG hearth | tr ' ' '\n' | grep -qx dialout || fail "hearth is not in dialout"
dialout=$(in_root getent group dialout | cut -d: -f3)
check_mode() { # path owner:group mode
    local got
    got=$(in_root stat -c '%U:%G %a' "$1")
    [ "$got" = "$2 $3" ] || fail "$1 is $got, want $2 $3"
}
check_mode /var/lib/hearth hearth:hearth 750
check_mode /etc/hearth/hearth.toml root:hearth 640
check_mode /usr/bin/hearth root:root 755
[ -L "$root/etc/systemd/system/multi-user.target.wants/hearth.service" ] \
    || fail "the service is not enabled"
say "user hearth ($uid, in dialout), directories, modes and the enabled unit as declared"

in_root hearth --version | grep -qx "hearth $current" || fail "hearth --version: $(in_root hearth --version)"
in_root hearth config check /etc/hearth/hearth.toml > /dev/null || fail "hearth config check"
in_root systemd-analyze verify hearth.service > "$work/verify.log" 2>&1 \
    || { cat "$work/verify.log" >&2; fail "systemd-analyze verify hearth.service"; }
if [ -s "$work/verify.log" ]; then cat "$work/verify.log" >&2; fail "systemd-analyze verify warns"; fi
# The package's drop-in (a static user instead of DynamicUser=) must not
# weaken the unit: same exposure bound as scripts/check-unit.sh (needs
# systemd >= 250, so bookworm only).
if [ "$(in_root systemd-analyze --version | awk 'NR == 1 { print $2 }')" -ge 250 ]; then
    in_root env SYSTEMD_COLORS=0 systemd-analyze security --offline=true --threshold=20 \
        hearth.service > "$work/security.log" 2>&1 \
        || { tail -5 "$work/security.log" >&2; fail "systemd-analyze security: exposure above 2.0"; }
    exposure=$(grep -o 'Overall exposure level for hearth.service: [0-9.]*' "$work/security.log" | grep -o '[0-9.]*$')
    say "installed unit with the package's drop-in: exposure $exposure (<= 2.0)"
fi
in_root man -w hearth > /dev/null 2>&1 || [ -f "$root/usr/share/man/man1/hearth.1.gz" ] \
    || fail "no man page"
[ -f "$root/usr/share/man/man1/hearth-device-add.1.gz" ] || fail "no man page for hearth device add"
say "hearth --version, config check, systemd-analyze verify: ok"

# --- the hub as the service runs it ------------------------------------------------
start_hub() {
    : > "$work/notify.log"
    rm -f "$root/run/hearth-notify"
    socat -u UNIX-RECV:"$root/run/hearth-notify",mode=0666 OPEN:"$work/notify.log",append &
    notify_pid=$!
    for _ in $(seq 50); do [ -S "$root/run/hearth-notify" ] && break; sleep 0.1; done
    unshare --net --fork --kill-child sh -c '
        ip link set lo up
        exec chroot --userspec="$1:$2" --groups="$3" "$4" env -i PATH=/usr/bin:/bin \
            STATE_DIRECTORY=/var/lib/hearth CONFIGURATION_DIRECTORY=/etc/hearth \
            NOTIFY_SOCKET=/run/hearth-notify /usr/bin/hearth run' \
        sh "$uid" "$gid" "$dialout" "$root" > "$work/hub.log" 2>&1 &
    hub_pid=$!
    local waited=0
    until grep -q READY=1 "$work/notify.log"; do
        kill -0 "$hub_pid" 2>/dev/null || { cat "$work/hub.log" >&2; fail "the hub exited before READY"; }
        [ $waited -lt $((deadline_secs * 10)) ] || { cat "$work/hub.log" >&2; fail "no READY in ${deadline_secs}s"; }
        sleep 0.1
        waited=$((waited + 1))
    done
}
stop_hub() {
    kill -TERM "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
        "$root/var/lib/hearth/runtime.json")"
    wait "$hub_pid" || fail "the hub did not stop cleanly: $(tail -5 "$work/hub.log")"
    hub_pid=""
    kill "$notify_pid" 2>/dev/null || true
    wait "$notify_pid" 2>/dev/null || true
    notify_pid=""
}
in_hub_net() { nsenter --net="/proc/$hub_pid/ns/net" "$@"; }
cli() { in_hub_net chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root HEARTH_PASSWORD="$password" hearth "$@"; }
history_rows() {
    python3 - "$root/var/lib/hearth/hearth.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM history").fetchone()[0])
PY
}

start_hub
say "the hub as user hearth reached READY: $(tr '\0' '\n' < "$work/notify.log" | grep -m1 STATUS= || true)"
cli setup --household Home --email "$email" > /dev/null 2>"$work/cli.log" || { cat "$work/cli.log" >&2; fail "hearth setup"; }
added=$(cli device add Home "Hall thermostat" 2>"$work/cli.log") || { cat "$work/cli.log" >&2; fail "hearth device add"; }
token=$(echo "$added" | sed -n 's/^auth token \([^ ]*\).*/\1/p')
[ -n "$token" ] || fail "no auth token in: $added"
ca=$root/var/lib/hearth/tls/ca.pem
for value in 20.5 21 21.5; do
    in_hub_net curl -sS --fail-with-body --cacert "$ca" \
        "https://localhost:8443/external/api/update?token=$token&V1=$value" > /dev/null \
        || fail "the Blynk HTTP API refused a value"
done
hub_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hub_id"])' "$root/var/lib/hearth/runtime.json")
stop_hub
rows=$(history_rows)
[ "$rows" -ge 1 ] || fail "no history was stored"
say "household Home, device Hall thermostat, $rows history rows (values over HTTPS, --cacert)"

# As a hearth from before migrations 7 and 8 left it. The journal must be
# empty: a stopping hub folds it into history.
python3 - "$root/var/lib/hearth/hearth.db" "$previous" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
left = db.execute("SELECT count(*) FROM value_journal").fetchone()[0]
if left:
    sys.exit(f"test-deb: {left} values left in the journal by a stopped hub")
db.executescript(
    "DROP TABLE device_properties; DROP TABLE value_journal; PRAGMA user_version = 6;"
)
db.execute("UPDATE meta SET value = ? WHERE key = 'migrated_by'", (sys.argv[2],))
db.commit()
PY
sed -i 's/^level = "info"$/level = "info,hearth=debug"  # edited by the household/' "$root/etc/hearth/hearth.toml"

# --- upgrade ------------------------------------------------------------------------
in_root apt-get install -y -qq "/tmp/$(basename "$new_deb")" > "$work/apt.log" 2>&1 \
    || { tail -30 "$work/apt.log" >&2; fail "apt install (upgrade)"; }
[ "$(in_root dpkg-query -W -f='${Version}' hearth)" = "$current" ] || fail "not upgraded"
grep -q "edited by the household" "$root/etc/hearth/hearth.toml" || fail "the edited configuration was replaced"
check_mode /etc/hearth/hearth.toml root:hearth 640
start_hub
listed=$(cli device list 2>/dev/null) || fail "hearth device list after the upgrade"
echo "$listed" | grep -q "Hall thermostat" || fail "the device is gone after the upgrade: $listed"
upgraded_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hub_id"])' "$root/var/lib/hearth/runtime.json")
stop_hub
[ "$upgraded_id" = "$hub_id" ] || fail "the hub's id changed: $hub_id -> $upgraded_id"
[ "$(history_rows)" = "$rows" ] || fail "history rows $rows -> $(history_rows)"
backups=$(ls "$root/var/lib/hearth/backups/" 2>/dev/null | grep -c '^before-upgrade-schema6-.*\.tar$' || true)
[ "$backups" = 1 ] || fail "want one backup from before the migration, found: $(ls "$root/var/lib/hearth/backups/" 2>&1)"
grep -q "backed up the state before migrating it" "$work/hub.log" || fail "the hub did not log its backup"
say "upgraded to $current: configuration edit, household, device, $rows history rows and hub id kept; backup taken"

# --- remove, purge --------------------------------------------------------------------
in_root apt-get remove -y -qq hearth > "$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; fail "apt remove"; }
[ -f "$root/var/lib/hearth/hearth.db" ] || fail "apt remove deleted the state"
[ -f "$root/etc/hearth/hearth.toml" ] || fail "apt remove deleted the configuration"
[ ! -e "$root/usr/bin/hearth" ] || fail "apt remove left the binary"
in_root apt-get purge -y -qq hearth > "$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; fail "apt purge"; }
[ ! -e "$root/var/lib/hearth" ] || fail "apt purge left /var/lib/hearth"
[ ! -e "$root/etc/hearth" ] || fail "apt purge left /etc/hearth: $(ls -la "$root/etc/hearth")"
! in_root dpkg-statoverride --list /etc/hearth/hearth.toml > /dev/null || fail "purge left the statoverride"
say "apt remove kept the state and configuration; apt purge removed them"
printf 'test-deb[%s]: all checks passed in %ds\n' "$suite" $((SECONDS - step_start))
