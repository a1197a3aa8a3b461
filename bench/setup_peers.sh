#!/usr/bin/env bash
# Create the peers' virtual environments for bench/serving.py (idempotent).
#
#   bench/.venv-mlflow    mlflow 3.17.x + scikit-learn   (also used by bench/registry.py)
#   bench/.venv-bentoml   bentoml 1.4.x + scikit-learn
#   bench/.venv-mlserver  mlserver 1.7.x + mlserver-sklearn (scikit-learn comes with it),
#                         uvloop < 0.22: with uvloop 0.22+ MLServer 1.7.1's inference worker
#                         dies at start ("There is no current event loop", SeldonIO/MLServer
#                         issue #2286, open; fix proposed in PR #2285)
#
# Each venv gets a stamp file holding its requirement line; a venv whose stamp matches
# is left alone, otherwise the requirements are (re)installed into it. Usage:
#
#     bash bench/setup_peers.sh            # all three
#     bash bench/setup_peers.sh mlserver   # only the named ones
#
# PYTHON picks the interpreter (default python3; the benchmark used Python 3.11).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

declare -A REQS=(
    [mlflow]="mlflow==3.17.* scikit-learn"
    [bentoml]="bentoml==1.4.* scikit-learn"
    [mlserver]="mlserver==1.7.* mlserver-sklearn==1.7.* uvloop<0.22"
)

peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then
    peers=(mlflow bentoml mlserver)
fi

for peer in "${peers[@]}"; do
    reqs="${REQS[$peer]:-}"
    if [ -z "$reqs" ]; then
        echo "setup_peers: unknown peer '$peer' (mlflow, bentoml, mlserver)" >&2
        exit 2
    fi
    venv="$HERE/.venv-$peer"
    stamp="$venv/.bench-requirements"
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$reqs" ]; then
        echo "setup_peers: $venv is up to date ($reqs)"
        continue
    fi
    echo "setup_peers: installing $reqs into $venv"
    test -x "$venv/bin/python" || "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    # shellcheck disable=SC2086  # the requirement line is a list of words on purpose
    "$venv/bin/python" -m pip install --quiet $reqs
    echo "$reqs" >"$stamp"
    "$venv/bin/python" -m pip list 2>/dev/null | grep -i -E "^(mlflow|bentoml|mlserver|mlserver-sklearn|scikit-learn|numpy|pandas|uvicorn|gunicorn) " || true
done
