#!/usr/bin/env bash
# Set up, then open the quickstart notebook in JupyterLab with the embedded default store.
# PORT=9999 bash scripts/demo.sh picks another port; --no-setup skips the set-up (done before).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-setup" ]; then
  bash scripts/setup.sh
fi

notebook=notebooks/quickstart.ipynb
[ -f "$notebook" ] || { echo "runwidget demo: $notebook is missing" >&2; exit 1; }

# A variable left over from elsewhere would point the demo at another store.
unset RUNWIDGET_STORE
port=${PORT:-8888}
token=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')
args=(--no-browser --ServerApp.ip=127.0.0.1 "--ServerApp.port=$port" --ServerApp.port_retries=0
  "--IdentityProvider.token=$token" "--ServerApp.root_dir=$PWD")
# Jupyter refuses to run as root unless told; machines set up as root are common here.
if [ "$(id -u)" -eq 0 ]; then args+=(--allow-root); fi

# Our own line, so the URL to open is not lost among Jupyter's log lines.
echo
echo "runwidget demo: open http://127.0.0.1:$port/lab/tree/$notebook?token=$token"
echo
exec .venv/bin/jupyter lab "${args[@]}"
