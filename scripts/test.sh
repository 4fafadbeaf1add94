#!/usr/bin/env bash
# `npm test`: type check, lint, build, then every test — unit, integration (as
# root: real capture, tracefs, namespaces) and end to end (Chromium against
# `netprobes serve`). Test files run one at a time: several of them count
# kernel events (drops, connections) that another file's traffic would add to.
# The last line is the totals: "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

step() { echo "== $*"; }
step "type check" && npx tsc -p tsconfig.json --noEmit || exit 1
step "lint" && npx eslint --max-warnings 0 . || exit 1
step "build" && node scripts/build.mjs || exit 1

files=(test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts)
if [[ $# -gt 0 ]]; then files=("$@"); fi
step "tests (${#files[@]} files)"
summary=$(mktemp)
# The app records history by default: tests that start `serve` or the app write to a throwaway data directory,
# never the user's own.
export XDG_DATA_HOME; XDG_DATA_HOME=$(mktemp -d)
# One test run at a time on a machine: the root tests count kernel-wide events that a second run would add to.
exec 9>/tmp/netprobes-tests.lock
flock -n 9 || { echo "(waiting for another test run on this machine to finish)"; flock 9; }
node --import tsx --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./test/helpers/summary-reporter.mjs --test-reporter-destination="$summary" \
  "${files[@]}"
status=$?
echo
cat "$summary"
rm -f "$summary"
rm -rf "$XDG_DATA_HOME"
exit $status
