#!/usr/bin/env bash
# Installs the npm packages of the server tests (the official `openai` client, exactly
# the version package-lock.json pins) into DIR/node_modules. Does nothing when they are
# there already. Usage: tests/server/install-client.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: install-client.sh DIR}
mkdir -p "$dir"
want=$(sed -nE 's/.*"openai": "([^"]+)".*/\1/p' "$here/package.json")
have=$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' "$dir/node_modules/openai/package.json" 2>/dev/null || true)
if [ "$have" = "$want" ] && cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
  echo "install-client: openai $have present in $dir"
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "install-client: openai $want installed in $dir"
