"""How fipsforge calls cosign: key-based (offline) or keyless with the caller's flags, and the CLI's checks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fipsforge.attest.cosign import Cosign, SigningOptions, sign_and_attest


def _recording_cosign(tmp_path: Path) -> tuple[Cosign, Path]:
    """A stand-in cosign that records each command line (one per line) and succeeds."""
    calls = tmp_path / "calls"
    script = tmp_path / "cosign"
    script.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    script.chmod(0o755)
    return Cosign(path=script, debian_version="test", deb_sha256="0" * 64, sha256="0" * 64), calls


def test_key_signing_is_offline_and_keyless_passes_flags_through(tmp_path: Path) -> None:
    cosign, calls = _recording_cosign(tmp_path)
    image = "127.0.0.1:5000/fipsforge/python@sha256:" + "a" * 64
    predicates = {"spdxjson": tmp_path / "spdx.json", "slsaprovenance1": tmp_path / "slsa.json"}
    attached = sign_and_attest(cosign, image, SigningOptions(key="cosign.key"), predicates)
    assert attached == ["spdxjson", "slsaprovenance1"]
    keyed = calls.read_text().splitlines()
    assert keyed[0] == f"sign --key cosign.key --tlog-upload=false --yes --allow-http-registry {image}"
    assert keyed[2].startswith("attest --key cosign.key --tlog-upload=false --yes --allow-http-registry "
                               f"--type slsaprovenance1 --predicate {tmp_path / 'slsa.json'}")  # fmt: skip
    calls.unlink()
    remote = "registry.invalid/fipsforge/python@sha256:" + "a" * 64
    sign_and_attest(cosign, remote, SigningOptions(cosign_args=["--identity-token=t"]), predicates)
    keyless = calls.read_text().splitlines()
    assert keyless[0] == f"sign --yes --identity-token=t {remote}"  # no key, the log is used, HTTPS only
    assert all("--tlog-upload=false" not in line and "--identity-token=t" in line for line in keyless)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sign-key", "k", "--keyless"], "error: --sign-key and --keyless: choose one way to sign"),
        (["--cosign-arg", "--x"], "error: --cosign-arg: only used when signing (--sign-key or --keyless)"),
    ],
)
def test_push_signing_options_are_checked(args: list[str], message: str, tmp_path: Path) -> None:
    fipsforge = shutil.which("fipsforge") or str(Path(__file__).parents[1] / ".venv/bin/fipsforge")
    done = subprocess.run([fipsforge, "push", str(tmp_path), "127.0.0.1:9/x/y", *args],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip() == message
