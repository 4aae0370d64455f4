#!/usr/bin/env bash
# Check systemd/hearth.service against a built hearth binary:
#
#   1. systemd-analyze verify         - the unit loads cleanly
#   2. systemd-analyze security       - overall exposure <= 2.0
#        --offline=true --threshold=20
#
# Usage: scripts/check-unit.sh path/to/hearth
#
# Exit status: 0 both checks passed, 1 a check failed, 2 usage/environment
# error. Needs systemd-analyze >= 250 (--offline=, --threshold= and
# --recursive-errors= appeared in 250); it does not need a running systemd,
# so it works in containers and CI. Debian 12 has 252; Raspberry Pi OS
# bullseye (247) cannot run this script, but the unit itself is 247-clean.
set -euo pipefail

# Exposure threshold. `systemd-analyze security --threshold=N` takes an
# INTEGER from 0 to 100: the exposure scale multiplied by 10 (internally the
# exposure is 0..100 and printed as N/10, e.g. 13 -> "1.3"). "2.0" is thus
# --threshold=20; a decimal like --threshold=2.0 is rejected ("Failed to
# parse threshold"), as is anything above 100. The command exits 1 when the
# exposure is strictly greater than N (1.3 passes --threshold=13, fails 12);
# it prints nothing extra on stderr in that case. The default is 100, i.e.
# without --threshold= it never fails on exposure.
readonly MAX_EXPOSURE_X10=20

die() { printf 'check-unit: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: $0 path/to/hearth"
[[ -f $1 && -x $1 ]] || die "not an executable file: $1"
bin=$(realpath -- "$1")
# The path is pasted into a unit file: "%" would be a specifier, whitespace
# and quotes/backslashes/"$" would need quoting. Keep it simple and refuse.
[[ $bin =~ ^[A-Za-z0-9._/+@,=-]+$ ]] \
    || die "binary path has characters that need escaping in a unit file: $bin"

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
src=$repo/systemd/hearth.service
[[ -f $src ]] || die "unit not found: $src"

command -v systemd-analyze >/dev/null || die "systemd-analyze not found (apt-get install systemd)"
sd_version=$(systemd-analyze --version | awk 'NR == 1 { print $2 }')
[[ $sd_version =~ ^[0-9]+$ ]] || die "cannot parse systemd version: $sd_version"
((sd_version >= 250)) || die "systemd-analyze $sd_version is too old, need >= 250"

# No colours, no pager, so the output can be grepped and logged.
export SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat

tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
# The file must keep the name hearth.service: systemd derives the unit name
# (and thus the unit type) from it.
unit=$tmp/hearth.service

# Rewrite the ExecStart= command path, keeping any prefix ("-", "!", ...)
# and the arguments ("run").
n_exec=0
while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^ExecStart=([-@:+!]*)([^[:space:]]+)(.*)$ ]]; then
        printf 'ExecStart=%s%s%s\n' "${BASH_REMATCH[1]}" "$bin" "${BASH_REMATCH[3]}"
        n_exec=$((n_exec + 1))
    else
        printf '%s\n' "$line"
    fi
done <"$src" >"$unit"
((n_exec == 1)) || die "expected exactly one ExecStart= line in $src, found $n_exec"

echo "== unit: $src"
echo "== systemd-analyze $sd_version, binary: $bin"
grep '^ExecStart=' "$unit" | sed 's/^/   /'

failed=0

# --- Step 1: verify ---------------------------------------------------------
# What is reliable (tested with systemd 252):
#  * Without --recursive-errors=, the exit status is non-zero only for fatal
#    load problems: ExecStart= binary missing or not executable, no
#    ExecStart=, a Requires= dependency that does not exist, ...
#  * Unknown keys, unknown sections and unparsable values ("Failed to parse
#    ..., ignoring") are only printed, as "<file>:<line>: ..."; exit stays 0.
#  * --recursive-errors=yes|one would make those fatal, but also any warning
#    in the dependencies (network.target, modprobe@.service,
#    multi-user.target, ... of whatever distro or container this runs on),
#    which is not ours to fix. --recursive-errors=no stops following
#    dependencies altogether and then misses a missing Requires= unit.
# So: fail on a non-zero exit status OR on any output line that mentions
# hearth.service (every message about this unit does: "<tmp>/hearth.service:
# 42: ...", "hearth.service: Command ... is not executable", "Unit
# hearth.service has a bad unit file setting"). Other lines (about unrelated
# system units) are shown but do not fail the check.
# --man=no: Documentation=man:... pages are not installed in a dev tree/CI.
echo
echo "== [1/2] systemd-analyze verify"
verify_rc=0
verify_out=$(systemd-analyze verify --man=no "$unit" 2>&1) || verify_rc=$?
ours=$(grep -F 'hearth.service' <<<"$verify_out" || true)
others=$(grep -vF 'hearth.service' <<<"$verify_out" | grep -v '^[[:space:]]*$' || true)
[[ -z $ours ]] || sed 's/^/   /' <<<"$ours"
[[ -z $others ]] || sed 's/^/   (ignored, not about hearth.service) /' <<<"$others"
if ((verify_rc != 0)) || [[ -n $ours ]]; then
    echo "FAIL: verify (exit status $verify_rc, $(grep -c . <<<"$ours" || true) message(s) about hearth.service)"
    failed=1
else
    echo "PASS: verify"
fi

# --- Step 2: security exposure ------------------------------------------------
echo
echo "== [2/2] systemd-analyze security --offline=true --threshold=$MAX_EXPOSURE_X10"
sec_rc=0
sec_out=$(systemd-analyze security --offline=true --threshold="$MAX_EXPOSURE_X10" \
    --no-pager "$unit" 2>&1) || sec_rc=$?
overall=$(grep 'Overall exposure level' <<<"$sec_out" || true)
max_shown="$((MAX_EXPOSURE_X10 / 10)).$((MAX_EXPOSURE_X10 % 10))"
if [[ -z $overall ]]; then
    sed 's/^/   /' <<<"$sec_out"
    echo "FAIL: security (no overall exposure reported, exit status $sec_rc)"
    failed=1
elif ((sec_rc != 0)); then
    # Show what costs exposure, to make the regression easy to find.
    grep '^✗' <<<"$sec_out" | sed 's/^/   /' || true
    echo "   $overall"
    echo "FAIL: security (exposure above $max_shown, exit status $sec_rc)"
    failed=1
else
    echo "   $overall"
    echo "PASS: security (exposure <= $max_shown)"
fi

echo
if ((failed)); then
    echo "check-unit: FAILED"
    exit 1
fi
echo "check-unit: OK"
