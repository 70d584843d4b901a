# Sourced by scripts/slskdn, scripts/test and scripts/bench: makes the machine ready.
# - Debian packages slskdn needs (installed when running as root and missing);
# - a virtual environment in .venv with slskdn and its dependencies, refreshed when
#   pyproject.toml changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

_need_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "slskdn: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        return 1
    fi
    echo "slskdn: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup_runtime() {
    if command -v dpkg-query >/dev/null 2>&1; then
        # libchromaprint1: audio fingerprints (pyacoustid loads it with ctypes).
        _need_debs libchromaprint1
    fi
    local stamp="$VENV/.slskdn-installed"
    local want
    want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "slskdn: creating virtual environment in $VENV" >&2
        "$PY" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "slskdn: installing Python dependencies (first run takes a minute)" >&2
        "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
        "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]" 2>&1 | grep -v -E "^(WARNING|  )" >&2 || true
        "$VENV/bin/python" -c "import slskdn, eventsourcing, pykka" \
            || { echo "slskdn: installing dependencies failed" >&2; exit 1; }
        echo "$want" > "$stamp"
    fi
}

setup_test_services() {
    if command -v dpkg-query >/dev/null 2>&1; then
        _need_debs postgresql
    fi
}
