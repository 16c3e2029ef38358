#!/usr/bin/env bash
# Developer entry point: `./dev.sh sandbox` starts everything, `./dev.sh test` runs every check.
# Both create the virtual environment in .venv on first use; nothing else is installed.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}

ensure_venv() {
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
        .venv/bin/pip install --quiet --upgrade pip
    fi
    .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
}

case "${1:-}" in
    sandbox)
        shift
        ensure_venv
        exec .venv/bin/aa-jak sandbox "$@"
        ;;
    test)
        shift
        ensure_venv
        .venv/bin/ruff check .
        .venv/bin/mypy
        .venv/bin/aa-jak check-knowledge
        exec .venv/bin/pytest "$@"
        ;;
    *)
        echo "usage: ./dev.sh sandbox | ./dev.sh test [pytest args]" >&2
        exit 2
        ;;
esac
