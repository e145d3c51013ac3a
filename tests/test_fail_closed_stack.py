"""The hardened openssl.cnf fails closed, and a `stack build --out` tree runs in place from anywhere.

Run against the staged tree on the host (no sandbox): a small C program linked to the stack's libcrypto
asks for MD5, SHA-256 and RAND_bytes the way any library user does, without initialising anything itself,
so libcrypto's own default-provider fallback is what is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fipsforge.cli import app
from fipsforge.stack.build import LIBDIR, StackBuild, out_environment
from fipsforge.stack.check import parse_providers
from fipsforge.stack.config import FIPSMODULE_CNF, HARDENED_OPENSSL_CNF, hardened_openssl_cnf

pytestmark = pytest.mark.slow

LIBRARY_USER = r"""
#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
int main(void) {
    unsigned char out[64]; unsigned int n;
    int md5 = EVP_Digest("abc", 3, out, &n, EVP_md5(), NULL);
    int sha256 = EVP_Digest("abc", 3, out, &n, EVP_sha256(), NULL);
    int rand = RAND_bytes(out, 16);
    printf("md5=%d sha256=%d rand=%d\n", md5 == 1, sha256 == 1, rand == 1);
    return 0;
}
"""
ALL_WORK, NONE_WORK, FIPS_WORKS = "md5=1 sha256=1 rand=1", "md5=0 sha256=0 rand=0", "md5=0 sha256=1 rand=1"


@pytest.fixture(scope="module")
def out_tree(tmp_path_factory: pytest.TempPathFactory, stack_build: StackBuild) -> Path:
    """`fipsforge stack build --out` into a directory far from /."""
    out = tmp_path_factory.mktemp("relocated") / "some" / "where" / "stack"
    result = CliRunner().invoke(app, ["stack", "build", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["environment"] == out_environment(out)
    return out


@pytest.fixture(scope="module")
def library_user(tmp_path_factory: pytest.TempPathFactory, out_tree: Path) -> Path:
    work = tmp_path_factory.mktemp("libuser")
    (work / "user.c").write_text(LIBRARY_USER)
    root = out_tree / "rootfs"
    subprocess.run(
        ["cc", "-o", str(work / "user"), str(work / "user.c"), "-I", str(root / "usr/include"),
         "-L", str(root / LIBDIR), "-lcrypto"],
        check=True, capture_output=True,
    )  # fmt: skip
    return work / "user"


def _run(out_tree: Path, argv: list[str], config: Path, cwd: Path, modules: Path | None = None) -> str:
    env = {**out_environment(out_tree), "OPENSSL_CONF": str(config), "PATH": os.environ.get("PATH", "")}
    if modules is not None:
        env["OPENSSL_MODULES"] = str(modules)
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def _config(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def test_the_out_tree_runs_in_place_through_three_variables(out_tree: Path, tmp_path: Path) -> None:
    env = {**out_environment(out_tree), "PATH": os.environ.get("PATH", "")}
    assert sorted(env) == ["LD_LIBRARY_PATH", "OPENSSL_CONF", "OPENSSL_MODULES", "PATH"]
    openssl = str(out_tree / "rootfs/usr/bin/openssl")
    listing = subprocess.run([openssl, "list", "-providers"], env=env, cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    blocks = parse_providers(listing)
    assert sorted(blocks) == ["base", "fips"]
    assert all("status: active" in block for block in blocks.values())
    md5 = subprocess.run([openssl, "dgst", "-md5"], input="abc", env=env, cwd=tmp_path, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert md5.returncode != 0 and "unsupported" in md5.stderr
    # the image's own config, in the same tree, keeps Debian's paths
    assert (out_tree / "rootfs/usr/lib/ssl/openssl.cnf").read_text() == hardened_openssl_cnf()
    # negative control: that config, used from here, reads the host's /usr/lib/ssl/fipsmodule.cnf (absent,
    # or written for another fips.so): no fips provider, and no default one either
    image_config = out_tree / "rootfs/usr/lib/ssl/openssl.cnf"
    control = parse_providers(_run(out_tree, [openssl, "list", "-providers"], image_config, tmp_path))
    assert "fips" not in control and "default" not in control


def test_missing_fipsmodule_cnf_means_no_crypto_for_a_library_user(
    out_tree: Path, library_user: Path, tmp_path: Path
) -> None:
    fipsmodule = out_tree / "rootfs" / FIPSMODULE_CNF.lstrip("/")
    hardened = _config(tmp_path, "hardened.cnf", hardened_openssl_cnf(str(fipsmodule)))
    assert _run(out_tree, [str(library_user)], hardened, tmp_path).strip() == FIPS_WORKS
    missing = str(tmp_path / "absent/fipsmodule.cnf")
    closed = _config(tmp_path, "closed.cnf", hardened_openssl_cnf(missing))
    assert _run(out_tree, [str(library_user)], closed, tmp_path).strip() == NONE_WORK
    # a wrong module-mac, or no fips.so where OPENSSL_MODULES points: the same
    wrong_mac = tmp_path / "wrong-mac.cnf"
    text = fipsmodule.read_text()
    wrong_mac.write_text(text.replace("module-mac = ", "module-mac = 00:", 1))
    assert _run(out_tree, [str(library_user)], _config(tmp_path, "m.cnf", hardened_openssl_cnf(str(wrong_mac))),
                tmp_path).strip() == NONE_WORK  # fmt: skip
    assert _run(out_tree, [str(library_user)], hardened, tmp_path, modules=tmp_path).strip() == NONE_WORK

    # negative controls: the order of the providers is what closes it, not config_diagnostics. With fips
    # listed first and its section missing, no activation was attempted, so libcrypto falls back to the
    # default provider on the first fetch, diagnostics or not.
    fips_first = HARDENED_OPENSSL_CNF.replace(
        "base = base_sect\nfips = fips_sect", "fips = fips_sect\nbase = base_sect"
    )
    assert fips_first != HARDENED_OPENSSL_CNF
    open_config = _config(
        tmp_path, "open.cnf", fips_first.format(fipsmodule_cnf=missing, openssldir="/usr/lib/ssl")
    )
    assert _run(out_tree, [str(library_user)], open_config, tmp_path).strip() == ALL_WORK
    no_diagnostics = _config(
        tmp_path, "nodiag.cnf", hardened_openssl_cnf(missing).replace("config_diagnostics = 1\n", "")
    )
    assert _run(out_tree, [str(library_user)], no_diagnostics, tmp_path).strip() == NONE_WORK


def test_config_diagnostics_stops_the_openssl_cli_at_start(out_tree: Path, tmp_path: Path) -> None:
    openssl = str(out_tree / "rootfs/usr/bin/openssl")
    closed = _config(tmp_path, "closed.cnf", hardened_openssl_cnf(str(tmp_path / "absent.cnf")))
    output = _run(out_tree, [openssl, "rand", "-hex", "8"], closed, tmp_path)
    assert "Startup failure" in output and "section=fips_sect not found" in output
    # control: without config_diagnostics the CLI starts, and then fails at first use (nothing to fetch)
    quiet = _config(tmp_path, "quiet.cnf", hardened_openssl_cnf(str(tmp_path / "absent.cnf")).replace(
        "config_diagnostics = 1\n", ""))  # fmt: skip
    output = _run(out_tree, [openssl, "rand", "-hex", "8"], quiet, tmp_path)
    assert "Startup failure" not in output and "unable to fetch drbg" in output
