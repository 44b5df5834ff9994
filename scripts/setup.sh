#!/usr/bin/env bash
# Set up a clone for development and tests on Debian: system packages, .venv, the JS build.
# Safe to run again: every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "runwidget setup: $*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# The JS front end is built only once its esbuild entry exists.
has_js_build() {
  [ -f js/build.mjs ] &&
    python3 -c 'import json, sys; sys.exit(not json.load(open("package.json")).get("scripts", {}).get("build"))'
}

# --- Debian packages: the test PostgreSQL server and the browser for UI tests.
missing=()
for pkg in postgresql chromium; do
  installed "$pkg" || missing+=("$pkg")
done
# Debian's python3 cannot create a venv without python3-venv.
if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi
if has_js_build && ! command -v npm >/dev/null; then
  missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages ${missing[*]} ..."
  # env: sudo drops DEBIAN_FRONTEND. Lock timeout: wait for a running apt (e.g.
  # unattended-upgrades on a new machine) instead of failing.
  apt_get=(as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
  "${apt_get[@]}" update
  "${apt_get[@]}" install -y "${missing[@]}"
fi

# --- Python environment.
if [ ! -x .venv/bin/python ]; then
  say "creating .venv ..."
  python3 -m venv .venv
fi
# Reinstall only when the declared dependencies or version changed: pip takes ~10 s even when
# nothing is to be done, and scripts/test.sh runs this file every time.
stamp=.venv/.runwidget-installed
want=$(cat pyproject.toml package.json | sha256sum)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing runwidget and its dev dependencies into .venv ..."
  # Below, the installed JupyterLab extension becomes a link to the build; pip must not
  # write its copy through that link into the build itself.
  if [ -L .venv/share/jupyter/labextensions/runwidget ]; then
    rm .venv/share/jupyter/labextensions/runwidget
  fi
  # A pip configured with local package folders that do not exist warns once per package;
  # those lines say nothing about this project.
  quiet_pip() {
    .venv/bin/python -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  }
  # PyTorch first, for the framework integrations' tests: asked for by version, pip takes
  # the CPU build where one is on this machine; asked for by range (as transformers and
  # lightning do), it would take the newest CUDA build, several GB more.
  if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    quiet_pip "torch==2.13.0"
  fi
  quiet_pip -e ".[dev]"
  echo "$want" >"$stamp"
fi

# --- JS front end.
if has_js_build; then
  say "building the JS front end ..."
  # npm ci installs what package-lock.json says and never rewrites it (npm install adds the
  # optional packages of other platforms to it); skipped when node_modules already has it.
  npm_stamp=node_modules/.runwidget-installed
  if [ ! -f package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error
  fi
  npm_want=$(cat package.json package-lock.json | sha256sum)
  if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$npm_want" >"$npm_stamp"
  fi
  npm run build
  # The editable install copied the JupyterLab extension; link it instead, so that a rebuild
  # is what JupyterLab loads.
  labext=.venv/share/jupyter/labextensions/runwidget
  if [ -d runwidget/labextension ] && [ ! -L "$labext" ]; then
    rm -rf "$labext"
    ln -s "$PWD/runwidget/labextension" "$labext"
  fi
else
  say "no js/build.mjs yet: skipping the JS build"
fi
say "done"
