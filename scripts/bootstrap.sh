#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs the locked dependencies and the project.
# `scripts/bootstrap.sh VENV LOCK` builds another environment the same way (`make airflow`:
# .venv-airflow from requirements-airflow.lock). Both must pass `uv pip check`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
lock=${2:-requirements.lock}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.10 "$HOME"/.pyenv/versions/3.10*/bin/python3.10 \
                   /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    # pyenv shims exist even when 3.10 is not selected: run it to be sure.
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      command -v "$candidate" || echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! py=$(find_python); then
  echo "error: Python 3.10 not found on PATH or under ~/.pyenv/versions; install it (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10" >&2
  exit 1
fi

# tflite-support's native module links against libusb-1.0.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing libusb-1.0-0 (needed by tflite-support)"
    (apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq libusb-1.0-0 >/dev/null; }) \
      || echo "warning: could not install libusb-1.0-0; TFLite metadata writing will be unavailable" >&2
  else
    echo "warning: libusb-1.0 missing; install it (Debian/Ubuntu: apt-get install libusb-1.0-0) for TFLite metadata" >&2
  fi
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  rm -rf "$venv"
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check uv==0.13.9
# Bytecode is compiled once here (pip's default; uv's is off): otherwise every process that
# imports TensorFlow, TFX and Beam compiles them from source again when .pyc files cannot be
# written (PYTHONDONTWRITEBYTECODE, read-only installs) -- 50 s instead of 22 s an import.
"$venv/bin/uv" pip sync -q --compile-bytecode --python "$venv/bin/python" "$lock"
"$venv/bin/uv" pip install -q --python "$venv/bin/python" --no-deps -e .
"$venv/bin/uv" pip check -q --python "$venv/bin/python"
echo "environment ready: $venv (Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'))"
