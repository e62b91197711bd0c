#!/usr/bin/env bash
# LocalStack without Docker, for the integration tier (tests/integration/test_localstack.py).
#
#   scripts/localstack.sh setup    create .localstack-venv (python3.13) and install the pins below;
#                                  idempotent: does nothing when the stamp matches these pins
#   scripts/localstack.sh python   print the venv's python path
#
# localstack-core 2026.3 runs on Python 3.13 only; the extra pins keep its runtime importable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.localstack-venv"
PINS=("localstack-core[runtime]==2026.3.0" "cbor2<6" "pyopenssl<25" "cryptography<45" "service-identity")
STAMP="$VENV/.installed"
export PIP_DISABLE_PIP_VERSION_CHECK=1

find_python313() {
    # pyenv shims exist for every version but only run the selected ones: test each candidate
    local candidate
    for candidate in "${PYTHON313:-}" "$(command -v python3.13 || true)" \
        "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /root/.pyenv/versions/3.13*/bin/python3.13; do
        if [[ -n "$candidate" && -x "$candidate" ]] \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
            echo "$candidate"; return
        fi
    done
    echo "python3.13 is required for LocalStack (set PYTHON313 or install it with pyenv)" >&2
    return 1
}

stamp_value() { printf '%s\n' "${PINS[@]}" | sha256sum | cut -d' ' -f1; }

setup() {
    local want; want="$(stamp_value)"
    if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        echo "==> $VENV is up to date"
        return
    fi
    local py; py="$(find_python313)"
    echo "==> setting up $VENV with $py"
    [[ -x "$VENV/bin/python" ]] || "$py" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
    "$VENV/bin/python" -c 'import localstack.runtime.main, localstack.services.s3.provider, localstack.services.sqs.provider'
    echo "$want" > "$STAMP"
    echo "==> $VENV ready"
}

case "${1:-}" in
    setup) setup ;;
    python) echo "$VENV/bin/python" ;;
    *) echo "usage: $0 setup|python" >&2; exit 2 ;;
esac
