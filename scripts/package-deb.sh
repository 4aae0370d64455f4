#!/usr/bin/env bash
# Debian packages of the release binaries (scripts/build-release.sh):
#   target/deb/hearth_<version>_<arch>.deb   for arm64, armhf and amd64
#
# Built with dpkg-deb directly, not cargo-deb: the package is a handful of
# files and three maintainer scripts we want to read and test line by line
# (sysusers, tmpfiles, a dpkg statoverride for the secret-bearing conffile,
# deb-systemd-helper), and dpkg-deb needs nothing compiled or downloaded.
#
# Contents: /usr/bin/hearth; the unit in /lib/systemd/system with a drop-in
# for the package's static user; sysusers.d and tmpfiles.d entries;
# /etc/hearth/hearth.toml (a conffile, 0640 root:hearth once installed); the
# man pages (one per subcommand) and bash/zsh/fish completions generated from the command line;
# copyright with the licences of every crate compiled in.
#
# Usage: scripts/package-deb.sh [--version VERSION] [--out DIR] [ARCH...]
#   ARCH: amd64 arm64 armhf (default: all three); each needs its binary.
#   --version: the package version (default: Cargo.toml's).
# The maintainer is $DEBFULLNAME <$DEBEMAIL>, as for Debian's own tools.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

version=""
out=target/deb
arches=()
while [ $# -gt 0 ]; do
    case "$1" in
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -*) echo "package-deb: unknown option $1" >&2; exit 2 ;;
    *) arches+=("$1"); shift ;;
    esac
done
[ ${#arches[@]} -gt 0 ] || arches=(arm64 armhf amd64)
maintainer="${DEBFULLNAME:-Hearth developers} <${DEBEMAIL:-hearth@example.org}>"
[ -n "$version" ] || version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

triple_of() {
    case "$1" in
    amd64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    armhf) echo armv7-unknown-linux-gnueabihf ;;
    *) echo "package-deb: unknown architecture $1 (amd64, arm64 or armhf)" >&2; exit 2 ;;
    esac
}

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

# The man page and completions, once for all architectures (a test of the
# library writes them; clap_mangen and clap_complete are dev-dependencies only).
HEARTH_WRITE_DOCS="$work/docs" cargo test --locked --quiet --lib cli::docs >/dev/null
[ -s "$work/docs/man/hearth.1" ] || { echo "package-deb: no man page was written" >&2; exit 1; }

mkdir -p "$out"
for arch in "${arches[@]}"; do
    triple=$(triple_of "$arch")
    bin="target/$triple/release/hearth"
    [ -x "$bin" ] || { echo "package-deb: $bin is not built (scripts/build-release.sh $triple)" >&2; exit 1; }
    root="$work/$arch"
    install -D -m 0755 "$bin" "$root/usr/bin/hearth"
    install -D -m 0644 systemd/hearth.service "$root/lib/systemd/system/hearth.service"
    install -D -m 0644 systemd/hearth-package.conf "$root/lib/systemd/system/hearth.service.d/package.conf"
    install -D -m 0644 systemd/hearth.sysusers "$root/usr/lib/sysusers.d/hearth.conf"
    install -D -m 0644 systemd/hearth.tmpfiles "$root/usr/lib/tmpfiles.d/hearth.conf"
    install -D -m 0644 config/hearth.toml "$root/etc/hearth/hearth.toml"
    install -d "$root/usr/share/man/man1"
    for page in "$work"/docs/man/*.1; do
        gzip -9n < "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"
        chmod 0644 "$root/usr/share/man/man1/$(basename "$page").gz"
    done
    install -D -m 0644 "$work/docs/completions/hearth.bash" "$root/usr/share/bash-completion/completions/hearth"
    install -D -m 0644 "$work/docs/completions/_hearth" "$root/usr/share/zsh/vendor-completions/_hearth"
    install -D -m 0644 "$work/docs/completions/hearth.fish" "$root/usr/share/fish/vendor_completions.d/hearth.fish"
    doc="$root/usr/share/doc/hearth"
    install -d "$doc"
    scripts/deb/copyright.py "$triple" > "$doc/copyright"
    chmod 0644 "$doc/copyright"
    {
        printf 'hearth (%s) unstable; urgency=medium\n\n' "$version"
        printf '  * Package of hearth %s, built from commit %s.\n\n' "$version" \
            "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
        # The commit's date, so two builds of one commit are the same package.
        printf ' -- %s  %s\n' "$maintainer" \
            "$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
    } | gzip -9n > "$doc/changelog.gz"
    chmod 0644 "$doc/changelog.gz"

    install -d "$root/DEBIAN"
    install -m 0755 scripts/deb/postinst scripts/deb/prerm scripts/deb/postrm "$root/DEBIAN/"
    echo /etc/hearth/hearth.toml > "$root/DEBIAN/conffiles"
    size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    cat > "$root/DEBIAN/control" <<CONTROL
Package: hearth
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: libc6 (>= 2.31), systemd, init-system-helpers (>= 1.54)
Section: net
Priority: optional
Description: local-first home hub: devices and sharing that work offline
 Hearth runs a household's devices (MQTT, the Blynk device protocol over
 TCP, TLS and serial, BLE sensors through bridges) and the sharing of them
 among its people: organizations, roles, ownership and shares replicate
 between the household's hubs and keep working with the internet down.
 .
 This package runs the hub as the systemd service hearth.service, as the
 system user hearth, with its state in /var/lib/hearth and its
 configuration in /etc/hearth/hearth.toml; the household app is served on
 https://<host>:8443/.
CONTROL
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
        | xargs -0 md5sum > DEBIAN/md5sums)
    chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
    deb="$out/hearth_${version}_${arch}.deb"
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
    printf 'package-deb: %s (%s bytes)\n' "$deb" "$(stat -c %s "$deb")"
done
