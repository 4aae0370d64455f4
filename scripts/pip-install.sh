#!/usr/bin/env bash
# pip install ARGS into the python3 on PATH, whether it is Debian's (which
# refuses without --break-system-packages) or a pyenv/venv one.
set -euo pipefail
flags=(--quiet --disable-pip-version-check)
if python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
    flags+=(--break-system-packages)
fi
exec python3 -m pip install "${flags[@]}" "$@"
