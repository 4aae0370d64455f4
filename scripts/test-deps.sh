#!/usr/bin/env bash
# Installs what the test suite needs, by package name, on Debian/Ubuntu:
#   iproute2        network namespaces + veth for the mDNS/LAN tests
#   nftables        a firewall dropping mDNS on one link (the doctor test)
#   systemd         systemd-analyze verify/security for the unit check
#   qemu-user,      running the aarch64 build under emulation
#   libc6-arm64-cross  (its glibc, for qemu-aarch64 -L /usr/aarch64-linux-gnu)
#   python3 zeroconf   an mDNS resolver Hearth did not write
#   socat           serial lines as pseudo-terminal pairs
#   mosquitto       a household's own MQTT broker
#   blynklib, blynk-library-python, paho-mqtt, TheengsGateway, bthome-ble
#                   (PyPI) and blynk-library (npm)
#                   the real Blynk clients the device tests drive
#   @automerge/automerge-repo(-network-websocket) (npm)
#                   the JavaScript sync client of the interop test
#   chromium (apt), playwright-core, @axe-core/playwright, jsqr + pngjs (reading a QR code off a screenshot) (npm)
#                   the real browser the household app's tests drive
#                   (Debian's Chromium: Playwright's own download cannot work here)
#   libnss3-tools (apt)  certutil, to trust the hub's authority in Chromium's store
#   debootstrap, lintian (apt)  real Debian roots for the package test, and
#                   Debian's own checks of the packages
# Safe to run again: it only installs what is missing. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly APT_PACKAGES=(iproute2 nftables systemd qemu-user libc6-arm64-cross binutils python3-pip socat mosquitto curl chromium libnss3-tools debootstrap lintian)
readonly PIP_PACKAGES=('zeroconf==0.154.0' 'blynklib==0.2.6' 'blynk-library-python==0.2.0' 'paho-mqtt==2.2.0' 'TheengsGateway==1.8.0' 'bthome-ble==3.25.0' 'schemathesis==4.32.5')
readonly NPM_PACKAGES=('blynk-library@0.5.4' '@automerge/automerge-repo@2.5.6' '@automerge/automerge-repo-network-websocket@2.5.6' 'playwright-core@1.65.1' '@axe-core/playwright@4.14.0' 'axe-core@4.14.1' 'jsqr@1.4.0' 'pngjs@7.0.0')

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test-deps: apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Only the pinned versions count: install what is missing or different.
pip_missing=$(python3 - "${PIP_PACKAGES[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        ok = version(name) == wanted
    except PackageNotFoundError:
        ok = False
    if not ok:
        print(spec)
PY
)
if [ -n "$pip_missing" ]; then
    echo "test-deps: pip install" $pip_missing
    # shellcheck disable=SC2086  # one argument per line of the list
    scripts/pip-install.sh $pip_missing
fi
# The Node clients live next to the scripts that drive them (tests/support);
# only the pinned versions count.
npm_missing=()
for spec in "${NPM_PACKAGES[@]}"; do
    name=${spec%@*}
    wanted=${spec##*@}
    have=$(node -p "require('./tests/support/node_modules/$name/package.json').version" 2>/dev/null || true)
    [ "$have" = "$wanted" ] || npm_missing+=("$spec")
done
if [ ${#npm_missing[@]} -gt 0 ]; then
    echo "test-deps: npm install ${NPM_PACKAGES[*]}"
    # One install of the whole list: npm prunes what a --no-save install leaves out.
    npm install --silent --no-save --no-package-lock --prefix tests/support "${NPM_PACKAGES[@]}" >/dev/null
fi
echo "test-deps: ok"
