#!/usr/bin/env bash
# The whole test suite, as a newcomer runs it and as CI runs it (.ci/run):
# installs what the tests need, rebuilds the household app and checks it
# is what the hub embeds, checks formatting and lints, runs every test
# against the real binary, checks the systemd unit, builds the release
# binaries (arm64, armhf, amd64), packages them for Debian and installs,
# upgrades and purges the package in real bookworm and bullseye roots, and
# runs the service tests against the aarch64 binary under qemu. Prints each
# stage's duration.
set -euo pipefail
cd "$(dirname "$0")/.."

stage_start=$SECONDS
total_start=$SECONDS
stage() {
    printf '\n==> %s\n' "$*"
    stage_start=$SECONDS
}
done_stage() {
    printf '<== %s: %ds\n' "$1" $((SECONDS - stage_start))
}

stage "dependencies (apt, pip, rustup components)"
scripts/test-deps.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true
done_stage dependencies

stage "household app: rebuilt from source, same as embedded"
scripts/check-app.sh
done_stage app

stage "cargo fmt --check"
cargo fmt --all -- --check
done_stage fmt

stage "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings
done_stage clippy

stage "cargo test (unit and integration tests against the real binary)"
cargo test --locked
done_stage test

stage "systemd unit: verify and security exposure <= 2.0"
scripts/check-unit.sh target/debug/hearth
done_stage unit

stage "release builds: arm64, armhf, amd64 (glibc <= 2.31)"
scripts/build-release.sh
done_stage release

stage "Debian packages: built, lintian, installed and upgraded in bookworm and bullseye roots"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
rm -rf target/deb
scripts/package-deb.sh
for deb in target/deb/hearth_"$version"_*.deb; do
    lintian --fail-on error,warning "$deb"
done
# The arm64 package's own binary, under emulation (a foreign Debian root
# would need binfmt_misc, which this machine lacks).
unpacked=$(mktemp -d)
dpkg-deb -x target/deb/hearth_"$version"_arm64.deb "$unpacked"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$unpacked/usr/bin/hearth" --version
rm -rf -- "$unpacked"
scripts/test-deb.sh bookworm
scripts/test-deb.sh bullseye
done_stage packages

stage "aarch64 binary under qemu: --version, service and backup tests"
aarch64_bin="$PWD/target/aarch64-unknown-linux-gnu/release/hearth"
runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
$runner "$aarch64_bin" --version
HEARTH_BIN="$aarch64_bin" HEARTH_RUNNER="$runner" cargo test --locked --test it -- service:: backup::
done_stage qemu

printf '\nall stages passed in %ds\n' $((SECONDS - total_start))
