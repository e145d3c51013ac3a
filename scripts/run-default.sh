#!/usr/bin/env bash
# The main job on the shipped default: build the FIPS stack and prove it in the sandbox.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/bootstrap.sh"
cd "$repo"
.venv/bin/fipsforge stack build
.venv/bin/fipsforge stack check
