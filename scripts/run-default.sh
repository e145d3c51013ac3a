#!/usr/bin/env bash
# The main job on the shipped default: build the FIPS stack and the default (python) image, then prove them:
# the stack's checks, the image's run-time conformance suite (kernel entropy present and cut off), and the
# static verification. Outputs go to out/ (override with FIPSFORGE_OUT).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/bootstrap.sh"
cd "$repo"
out=${FIPSFORGE_OUT:-$repo/out}
mkdir -p "$out"
.venv/bin/fipsforge stack build
.venv/bin/fipsforge stack check
.venv/bin/fipsforge build python --out "$out/python" --docker-archive "$out/python.tar"
.venv/bin/fipsforge test "$out/python" --junit "$out/python-test.xml"
.venv/bin/fipsforge verify "$out/python" --sarif "$out/python-verify.sarif"
echo "image: $out/python (OCI layout), $out/python.tar (docker-archive); reports beside them" >&2
