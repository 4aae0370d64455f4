#!/usr/bin/env bash
# Release binaries for Raspberry Pi OS bullseye, Debian 11 and newer (the
# Debian packages are made of these, scripts/package-deb.sh):
#   target/aarch64-unknown-linux-gnu/release/hearth     (arm64)
#   target/armv7-unknown-linux-gnueabihf/release/hearth (armhf)
#   target/x86_64-unknown-linux-gnu/release/hearth      (amd64)
# linked against glibc 2.31 at the newest (cargo zigbuild's ".2.31" target
# suffix), and checks that no symbol needs a newer GLIBC_ version.
#
# Usage: scripts/build-release.sh [TARGET...]   (default: all three)
#
# Installs what it needs by package name: the Rust targets (rustup), zig and
# cargo-zigbuild (PyPI wheels). Fails loudly if any of them cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly MAX_GLIBC=2.31
if [ $# -gt 0 ]; then
    readonly TARGETS=("$@")
else
    readonly TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf x86_64-unknown-linux-gnu)
fi

rustup target add "${TARGETS[@]}"
if ! command -v cargo-zigbuild >/dev/null || ! python3 -c 'import ziglang' 2>/dev/null; then
    scripts/pip-install.sh 'ziglang==0.15.2' 'cargo-zigbuild==0.24.0'
fi

# No unwind tables for Hearth's code and its crates (std keeps its own):
# with panic = "abort" nothing unwinds, and a stripped binary's backtrace
# names nothing. They were 0.9 MB of the binary (`.eh_frame`). Only here:
# a test build unwinds, and needs them.
export RUSTFLAGS="${RUSTFLAGS:-} -C force-unwind-tables=no"

# One cargo for all targets: each target's single-threaded fat-LTO link
# overlaps another's compiling, on 2 cores.
target_args=()
for target in "${TARGETS[@]}"; do
    target_args+=(--target "${target}.${MAX_GLIBC}")
done
start=$SECONDS
cargo zigbuild --release --locked "${target_args[@]}"
printf 'build-release: %s in %ds\n' "${TARGETS[*]}" $((SECONDS - start))
for target in "${TARGETS[@]}"; do
    bin="target/${target}/release/hearth"
    # readelf reads any architecture's ELF; list every GLIBC_x.y the binary needs.
    newest=$(readelf -V --wide "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
    size=$(stat -c %s "$bin")
    printf '%s: %s bytes, newest glibc symbol %s\n' "$bin" "$size" "$newest"
    if [ "$(printf '%s\n%s\n' "$newest" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]; then
        echo "build-release: $bin needs GLIBC_$newest, newer than $MAX_GLIBC (Raspberry Pi OS bullseye)" >&2
        exit 1
    fi
done
