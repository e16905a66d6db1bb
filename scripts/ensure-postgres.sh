#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 for user `postgres` without a
# password, installing and starting it when needed. Tests create their own
# databases; nothing else is assumed.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
  echo "installing PostgreSQL …"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # A fresh cluster asks for passwords over TCP; tests connect as postgres on loopback.
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
fi

if ! ready; then
  echo "starting PostgreSQL …"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
fi

for _ in $(seq 1 60); do
  if ready; then exit 0; fi
  sleep 1
done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1
