#!/usr/bin/env bash
# Developer entry point: `./dev.sh sandbox` starts everything, `./dev.sh test` runs every check.
# Both create the virtual environment in .venv on first use; nothing else is installed.
# `sandbox` installs the project into it only when .venv is new or pyproject.toml changed since
# the last install (so it starts offline and fast); `test` installs every time, as CI does.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
INSTALL_STAMP=.venv/.aa-jak-installed  # the checksum of the pyproject.toml last installed

ensure_venv() {
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
        .venv/bin/pip install --quiet --upgrade pip
    fi
}

install_project() {
    .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
    cksum <pyproject.toml >"$INSTALL_STAMP"
}

install_project_if_changed() {
    if [ "$(cksum <pyproject.toml)" != "$(cat "$INSTALL_STAMP" 2>/dev/null)" ]; then
        install_project
    fi
}

case "${1:-}" in
    sandbox)
        shift
        ensure_venv
        install_project_if_changed
        exec .venv/bin/aa-jak sandbox "$@"
        ;;
    test)
        shift
        ensure_venv
        install_project
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
