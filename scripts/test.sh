#!/usr/bin/env bash
# Every check, in one command: set-up, lint and format, JS tests, then all Python tests
# (PostgreSQL and browser tests included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "runwidget test: $*"; }

bash scripts/setup.sh

# ruff fails on a missing path, and git does not keep empty directories such as bench/.
paths=()
for dir in runwidget tests bench; do
  if [ -d "$dir" ]; then paths+=("$dir"); fi
done
say "ruff check ${paths[*]}"
.venv/bin/ruff check "${paths[@]}"
say "ruff format --check ${paths[*]}"
.venv/bin/ruff format --check "${paths[@]}"

if [ -x node_modules/.bin/vitest ]; then
  say "vitest"
  # The JS tests are being written; until the first lands, no test files is not a failure.
  npx --no-install vitest run --passWithNoTests
else
  say "vitest not installed: no JS tests yet"
fi

say "pytest"
exec .venv/bin/python -m pytest "$@"
