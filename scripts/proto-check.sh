#!/usr/bin/env bash
# Part of `make lint`: check the API's shape with buf (configuration: buf.yaml).
#
#   scripts/proto-check.sh
#
# 1. `buf lint`: Google's API conventions and a comment on every element.
# 2. `buf breaking` (WIRE_JSON) of the working tree against the previous commit
#    (PROTO_BREAKING_AGAINST, default HEAD~1; e.g. PROTO_BREAKING_AGAINST=HEAD checks
#    only uncommitted changes). In CI the working tree is HEAD, so this checks the
#    commit under test. Skipped, with a note, when that commit is not in the clone
#    (a shallow clone, or the first commit).
#
# A deliberate break is allowed when it is written down: when the same comparison
# adds an entry (a new "## " heading) to proto/BREAKING.md, breaking findings are
# printed but do not fail.
#
# buf comes from npm (@bufbuild/buf, pinned below) into target/tools/buf-<version>
# unless BUF names a buf binary to use instead; needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=1.75.0
BREAKING_LOG=proto/BREAKING.md
against=${PROTO_BREAKING_AGAINST:-HEAD~1}

buf=${BUF:-}
if [ -z "$buf" ]; then
    prefix="target/tools/buf-$BUF_VERSION"
    buf="$prefix/node_modules/.bin/buf"
    if [ ! -x "$buf" ]; then
        if ! command -v npm >/dev/null 2>&1; then
            echo "proto-check: buf is not installed and npm is missing; install Node.js (with npm) or set BUF=/path/to/buf" >&2
            exit 1
        fi
        echo "proto-check: installing @bufbuild/buf@$BUF_VERSION into $prefix" >&2
        mkdir -p "$prefix"
        npm install --no-save --no-audit --no-fund --loglevel=error \
            --prefix "$prefix" "@bufbuild/buf@$BUF_VERSION" >&2
    fi
fi

echo "proto-check: buf $("$buf" --version) lint"
if ! "$buf" lint; then
    echo "proto-check: fix the lint findings above (rules and their exceptions: buf.yaml)"
    exit 1
fi

if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "proto-check: not a git checkout; skipping buf breaking"
    exit 0
fi
if ! against_commit=$(git rev-parse --verify --quiet "$against^{commit}"); then
    if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
        echo "proto-check: $against is not in this shallow clone; skipping buf breaking" \
            "(fetch more history, e.g. git fetch --deepen=1, to run it)"
    else
        echo "proto-check: there is no commit $against to compare with; skipping buf breaking"
    fi
    exit 0
fi

short=$(git rev-parse --short "$against_commit")
echo "proto-check: buf breaking against $against ($short)"
# The module is proto/ (buf.yaml at the root, which older commits do not have),
# so the commit's proto/ directory is compared as a module of its own.
findings=$("$buf" breaking --against ".git#ref=$against_commit,subdir=proto" 2>&1) && status=0 || status=$?
if [ "$status" -eq 0 ]; then
    echo "proto-check: no breaking changes"
    exit 0
fi
echo "$findings"
if [ "$status" -ne 100 ]; then
    echo "proto-check: buf breaking failed (exit $status)" >&2
    exit "$status"
fi

# Entries ("## " headings) added to the breaking-change log since $against, in the
# working tree (so an entry not committed yet counts while you work). Only more
# entries count: rewording an old heading allows nothing.
headings() { grep '^## ' || true; }
old_headings=$( (git show "$against_commit:$BREAKING_LOG" 2>/dev/null || true) | headings)
new_headings=$( (cat "$BREAKING_LOG" 2>/dev/null || true) | headings)
added_entries=""
if [ "$(grep -c . <<<"$new_headings")" -gt "$(grep -c . <<<"$old_headings")" ]; then
    added_entries=$(grep -vxF -f <(printf '%s\n' "$old_headings") <<<"$new_headings" \
        || head -n 1 <<<"$new_headings")
fi
if [ -n "$added_entries" ]; then
    echo "proto-check: the breaking changes above are deliberate, recorded in $BREAKING_LOG:"
    echo "$added_entries" | sed 's/^/  /'
    exit 0
fi
cat <<EOF
proto-check: the changes above break existing clients (wire or JSON).
  Make the change compatible (add a field, enum value or message instead of
  changing one), or, if the break is deliberate, add an entry to $BREAKING_LOG
  in the same commit saying what changed, why, and what old clients see.
EOF
exit 1
