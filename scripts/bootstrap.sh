#!/usr/bin/env bash
# Installs what fipsforge needs on a fresh Debian machine: apt packages and a virtualenv in .venv.
# Idempotent and quiet when everything is already there.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mapfile -t wanted < <(grep -v -e '^#' -e '^$' "$repo/scripts/apt-packages.txt")
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python=${PYTHON:-python3}
if [[ ! -x "$repo/.venv/bin/python" ]]; then
    "$python" -m venv "$repo/.venv"
fi
stamp="$repo/.venv/.fipsforge-installed"
if [[ ! -f "$stamp" || "$repo/pyproject.toml" -nt "$stamp" || -n "$(find "$repo/src" -name '*.c' -newer "$stamp" -print -quit)" ]]; then
    "$repo/.venv/bin/pip" install -q --upgrade pip >/dev/null
    "$repo/.venv/bin/pip" install -q -e "$repo[dev]"
    # The NIST reference estimators (C++ wrapped with pybind11), a test cross-check for fipsforge.entropy.
    # Its sdist needs pybind11 present at build time, hence no build isolation.
    "$repo/.venv/bin/pip" install -q pybind11 wheel
    "$repo/.venv/bin/pip" install -q --no-build-isolation sp800-90b==0.1.1
    touch "$stamp"
fi
# Compile the SP 800-90B kernels into numba's on-disk cache now, so no assessment compiles them
# (a no-op, about two seconds, when they are already cached for the current sources).
"$repo/.venv/bin/python" -m fipsforge.entropy.warm
