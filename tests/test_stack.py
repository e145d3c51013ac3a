"""The stack's acceptance list: identity, integrity, crypto with the kernel cut off, controls, tampering."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fipsforge.cli import app
from fipsforge.sandbox import FIPS_PROVIDER_SEEDING, EntropyMode, run_sandboxed
from fipsforge.stack.build import MODULES_DIR, StackBuild, StackOptions, build_stack
from fipsforge.stack.check import (
    Expectation,
    check_stack,
    identity_checks,
    negative_controls,
    openssl_probes,
    parse_providers,
    run_probe,
    stack_binds,
)
from fipsforge.stack.config import read_module_mac
from fipsforge.stack.integrity import module_mac
from fipsforge.stack.sources import apt_root

pytestmark = pytest.mark.slow


def test_version_names_jitter_and_manifest_is_read_from_the_binaries(stack_build: StackBuild) -> None:
    result = run_sandboxed(Path("/"), ["openssl", "version", "-r"], binds=stack_binds(stack_build.staging))
    assert "JITTER" in result.stdout
    manifest = stack_build.manifest
    assert manifest.openssl_version.startswith("3.5.")
    assert manifest.jitterentropy_version.startswith("3.4.")
    assert "enable-fips-jitter" in manifest.configure
    assert f"JITTER ({manifest.jent_version})" in manifest.seeding_source
    assert all(len(digest) == 64 for digest in manifest.inputs.values())
    assert any(name.endswith(".orig.tar.gz") for name in manifest.inputs)


def test_providers_are_fips_and_base_at_3_5(stack_build: StackBuild) -> None:
    result = run_sandboxed(
        Path("/"), ["openssl", "list", "-providers"], binds=stack_binds(stack_build.staging)
    )
    assert result.ok, result.stderr
    blocks = parse_providers(result.stdout)
    assert sorted(blocks) == ["base", "fips"], "the default provider must not be loaded"
    assert "status: active" in blocks["fips"] and "status: active" in blocks["base"]
    assert "version: 3.5." in blocks["fips"]


def test_no_loadable_engine_is_built(stack_build: StackBuild, tmp_path: Path) -> None:
    """Engines are code outside the FIPS boundary (padlock's AES, afalg's route to the kernel's crypto):
    the stack builds none. Control: Debian's own libssl3t64 ships them."""
    staged = sorted(p.name for p in stack_build.staging.glob("usr/lib/x86_64-linux-gnu/engines-3/*"))
    assert staged == [] and (stack_build.staging / "usr/lib/x86_64-linux-gnu/libcrypto.so.3").is_file()
    [deb] = apt_root().download(["libssl3t64"], tmp_path)
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    debian = sorted(set(re.findall(r"/engines-3/(\w+\.so)$", listing, re.MULTILINE)))
    assert {"padlock.so", "afalg.so", "loader_attic.so"} <= set(debian)


def test_module_mac_is_hmac_sha256_over_fips_so(stack_build: StackBuild) -> None:
    recorded = read_module_mac(stack_build.staging / "usr/lib/ssl/fipsmodule.cnf")
    assert recorded == module_mac(stack_build.staging / MODULES_DIR / "fips.so")
    assert recorded == stack_build.manifest.module_mac
    assert recorded != module_mac(stack_build.staging / MODULES_DIR / "fips.so", key=b"not the FIPS key")


@pytest.mark.parametrize("probe", openssl_probes(), ids=lambda probe: probe.id)
def test_crypto_with_kernel_entropy_cut_off(stack_build: StackBuild, probe: object) -> None:
    from fipsforge.stack.check import Probe

    assert isinstance(probe, Probe) and probe.mode is EntropyMode.KERNEL_CUT_OFF
    result = run_probe(Path("/"), stack_binds(stack_build.staging), probe)
    assert result.passed, result.detail
    if probe.expect is Expectation.SUCCEEDS:
        assert result.kernel_seeding_calls == 0, "the stack must not even try the kernel for seed material"


def test_negative_controls_fail_in_the_same_sandbox(stack_build: StackBuild) -> None:
    stock, kernel_seeded = negative_controls(stack_build)
    assert stock.passed, f"stock Debian openssl must fail with the kernel cut off: {stock.detail}"
    assert "error" in stock.detail.lower() or "exit" in stock.detail
    assert kernel_seeded.passed, f"the kernel-seeded fips.so must fail: {kernel_seeded.detail}"
    assert stock.kernel_seeding_calls > 0 and kernel_seeded.kernel_seeding_calls > 0


def test_kernel_seeded_fips_so_calls_getrandom_and_ours_does_not(stack_build: StackBuild) -> None:
    """The silent-fallback trap, shown by tracing: same config, only fips.so's build differs."""
    from fipsforge.stack.check import kernel_seeded_variant

    command = ["openssl", "rand", "-hex", "32"]
    trap = run_sandboxed(Path("/"), command, binds=stack_binds(kernel_seeded_variant(stack_build)))
    ours = run_sandboxed(Path("/"), command, binds=stack_binds(stack_build.staging))
    assert trap.ok and ours.ok  # with the kernel available both "work": that is the trap
    seeding = [
        c
        for c in trap.crypto_relevant_calls
        if c.syscall == "getrandom" and c.purpose == FIPS_PROVIDER_SEEDING
    ]
    assert seeding, "Debian's fips.so (no enable-fips-jitter) should seed from getrandom"
    assert ours.crypto_relevant_calls == []
    assert {c.purpose for c in ours.randomness_calls} <= {"glibc malloc tcache key"}


def test_tampered_fips_so_fails_to_load_and_check_says_so(stack_build: StackBuild, tmp_path: Path) -> None:
    tampered = tmp_path / "stack"
    shutil.copytree(stack_build.staging.parent, tampered, symlinks=True)
    if not (tampered / "manifest.json").exists():
        shutil.copy2(stack_build.staging.parent / "manifest.json", tampered / "manifest.json")
    fips_so = tampered / "rootfs" / MODULES_DIR / "fips.so"
    data = bytearray(fips_so.read_bytes())
    data[len(data) // 2] ^= 0x01
    fips_so.write_bytes(bytes(data))
    report = check_stack(tampered, with_controls=False)
    verdicts = {result.id: result.passed for result in report.results}
    assert not report.passed
    assert verdicts["module-mac"] is False
    assert verdicts["providers-active"] is False
    assert verdicts["rand"] is False
    cli = CliRunner().invoke(app, ["stack", "check", str(tampered), "--no-controls", "--json"])
    assert cli.exit_code == 1
    assert json.loads(cli.stdout)["passed"] is False


def test_untampered_stack_passes_identity_checks(stack_build: StackBuild) -> None:
    results = identity_checks(stack_build, stack_binds(stack_build.staging))
    assert all(result.passed for result in results), [r for r in results if not r.passed]


def test_repeat_build_is_served_from_the_cache(stack_build: StackBuild) -> None:
    steps: list[str] = []
    again = build_stack(progress=steps.append)
    assert steps == ["sources"]
    assert again.manifest == stack_build.manifest


def test_build_out_copies_the_staged_tree(stack_build: StackBuild, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "build", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/rootfs" / MODULES_DIR / "fips.so").is_file()
    assert (tmp_path / "out/manifest.json").is_file()
    assert str(tmp_path / "out/rootfs") in result.stdout


PAIRED_RELEASE = ("openssl", "3.0.17-1~deb12u2", "bookworm")


def test_pairing_with_a_separately_supplied_3_0_provider() -> None:
    """A 3.0.x fips.so calls the legacy get_entropy upcall; our jitter libcrypto answers it from jitter."""
    from fipsforge.stack.sources import fetch_source_package

    release = fetch_source_package(*PAIRED_RELEASE).file(".orig.tar.gz")
    sha256 = fetch_source_package(*PAIRED_RELEASE).sha256[release.name]
    paired = build_stack(StackOptions(fips_provider_source=release, fips_provider_sha256=sha256))
    assert paired.manifest.pairing is not None
    assert paired.manifest.pairing.provider_version == "3.0.17"
    assert paired.manifest.pairing.sha256 == sha256
    assert paired.manifest.fips_provider_version == "3.0.17"
    assert paired.manifest.openssl_version.startswith("3.5.")
    rand = run_probe(Path("/"), stack_binds(paired.staging), openssl_probes()[0])
    assert rand.passed, f"paired provider must seed without the kernel: {rand.detail}"
    assert rand.kernel_seeding_calls == 0
