#!/usr/bin/env bash
# Rebuilds the household app from its source with the pinned packages
# (app/package-lock.json) and fails if what the hub embeds (app/dist) or
# the API types the app is checked against (app/src/api/schema.d.ts and
# cloud.d.ts, from app/openapi.json and cloud-openapi.json) differ from what is committed. Node.js is needed here
# and to change the app, never to build or run the hub.
set -euo pipefail
cd "$(dirname "$0")/../app"

npm ci --no-audit --no-fund --silent
npm run --silent types >/dev/null
npm run --silent check
npm run --silent build
changed=$(git status --porcelain --untracked-files=all -- . ':!node_modules')
if [ -n "$changed" ]; then
    echo "check-app: the committed app is not what its source builds to:" >&2
    echo "$changed" >&2
    echo "check-app: run 'npm run types && npm run build' in app/ and commit app/dist" >&2
    exit 1
fi
echo "check-app: app/dist is what app/src builds to"
