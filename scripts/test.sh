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
say "mypy"
.venv/bin/mypy

say "eslint js"
npx --no-install eslint js ./*.mjs
say "vitest"
npx --no-install vitest run

say "pytest"
exec .venv/bin/python -m pytest "$@"
