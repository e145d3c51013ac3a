"""`fipsforge stack check`: the stack's acceptance checks, run in the sandbox.

Each probe is a short sequence of `openssl` commands (no shell needed, so the same probes run inside a
minimal image) that share a writable scratch directory. A probe either must succeed or must be refused.
The crypto probes run with the kernel's entropy cut off, so a success proves jitter seeding; the
negative controls run in that same sandbox and must fail, which proves the checks can fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir, cache_root, exclusive_lock
from fipsforge.sandbox import (
    FIPS_PROVIDER_SEEDING,
    EntropyMode,
    RandomnessCall,
    SandboxResult,
    run_sandboxed,
)
from fipsforge.stack.build import LIBDIR, MODULES_DIR, StackBuild, load_stack
from fipsforge.stack.config import OPENSSLDIR, read_module_mac
from fipsforge.stack.integrity import module_mac
from fipsforge.stack.sources import apt_root

SCRATCH = "/tmp/scratch"
CONFIG_FILE = f"{OPENSSLDIR}/openssl.cnf"  # present in every stack and image: input for the digest probes


class Expectation(StrEnum):
    SUCCEEDS = "succeeds"
    REFUSED = "refused"


class Probe(BaseModel):
    """One check: commands run in order in one scratch directory; the last one decides."""

    id: str
    group: str
    description: str
    commands: list[list[str]]
    expect: Expectation
    mode: EntropyMode = EntropyMode.KERNEL_CUT_OFF
    stdout_must_match: str | None = None
    refusal_must_match: str = r"unsupported|initialization error|not supported|disabled"
    """A refusal counts only with OpenSSL's own reason, so a broken sandbox cannot pass for one."""
    stdin: str | None = None
    env: dict[str, str] = {}


class CheckResult(BaseModel):
    id: str
    group: str
    description: str
    mode: EntropyMode
    expect: Expectation
    passed: bool
    detail: str
    kernel_seeding_calls: int = 0
    """getrandom calls and /dev/*random opens that fed cryptography (malloc's tcache key excluded)."""
    denied_syscalls: int = 0
    randomness_calls: list[RandomnessCall] = []
    """Every getrandom call and /dev/*random open the probe's commands made, with who made it."""


class StackCheckReport(BaseModel):
    stack: Path
    openssl_version: str
    fips_provider_version: str
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)


def openssl_probes() -> list[Probe]:
    """Crypto behaviour every FIPS stack must show, with the kernel's entropy cut off."""
    s = SCRATCH
    return [
        Probe(id="rand", group="approved, kernel cut off", description="openssl rand (DRBG seeded by jitter)",
              commands=[["openssl", "rand", "-hex", "32"]], expect=Expectation.SUCCEEDS,
              stdout_must_match=r"^[0-9a-f]{64}$"),
        Probe(id="ec-p256-keygen", group="approved, kernel cut off", description="EC P-256 key generation",
              commands=[["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-out", f"{s}/ec.pem"], ["openssl", "pkey", "-in", f"{s}/ec.pem", "-noout", "-text"]],
              expect=Expectation.SUCCEEDS, stdout_must_match=r"NIST CURVE: P-256"),
        Probe(id="rsa-3072-keygen", group="approved, kernel cut off", description="RSA-3072 key generation",
              commands=[["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072",
                         "-out", f"{s}/rsa.pem"], ["openssl", "pkey", "-in", f"{s}/rsa.pem", "-noout", "-text"]],
              expect=Expectation.SUCCEEDS, stdout_must_match=r"Private-Key: \(3072 bit"),
        Probe(id="aes-256-gcm", group="approved, kernel cut off",
              description="AES-256-GCM encryption and decryption (CMS, RSA-3072 OAEP recipient)",
              commands=[
                  ["openssl", "req", "-x509", "-newkey", "rsa:3072", "-nodes", "-subj", "/CN=fipsforge",
                   "-keyout", f"{s}/key.pem", "-out", f"{s}/cert.pem"],
                  ["openssl", "cms", "-encrypt", "-aes-256-gcm", "-in", f"{s}/cert.pem", "-recip", f"{s}/cert.pem",
                   "-keyopt", "rsa_padding_mode:oaep", "-outform", "DER", "-out", f"{s}/message.der"],
                  ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", f"{s}/message.der",
                   "-inkey", f"{s}/key.pem", "-recip", f"{s}/cert.pem"],
              ],
              expect=Expectation.SUCCEEDS, stdout_must_match=r"BEGIN CERTIFICATE"),
        Probe(id="ml-kem-768-keygen", group="approved, kernel cut off", description="ML-KEM-768 key generation",
              commands=[["openssl", "genpkey", "-algorithm", "ML-KEM-768", "-out", f"{s}/mlkem.pem"],
                        ["openssl", "pkey", "-in", f"{s}/mlkem.pem", "-noout", "-text"]],
              expect=Expectation.SUCCEEDS, stdout_must_match=r"ML-KEM-768"),
        Probe(id="md5-refused", group="non-approved, refused", description="MD5 digest",
              commands=[["openssl", "dgst", "-md5", CONFIG_FILE]], expect=Expectation.REFUSED),
        Probe(id="chacha20-refused", group="non-approved, refused", description="ChaCha20 encryption",
              commands=[["openssl", "enc", "-chacha20", "-K", "00" * 32, "-iv", "00" * 16, "-in", CONFIG_FILE,
                         "-out", f"{s}/chacha.bin"]], expect=Expectation.REFUSED),
        Probe(id="x25519-refused", group="non-approved, refused", description="X25519 key generation",
              commands=[["openssl", "genpkey", "-algorithm", "X25519", "-out", f"{s}/x25519.pem"]],
              expect=Expectation.REFUSED),
    ]  # fmt: skip


def run_probe(root: Path, binds: dict[Path, str], probe: Probe) -> CheckResult:
    """Run one probe's commands in a fresh scratch directory and judge the outcome."""
    with tempfile.TemporaryDirectory(prefix="fipsforge-probe-") as scratch:
        runs: list[SandboxResult] = []
        for command in probe.commands:
            run = run_sandboxed(
                root, command, mode=probe.mode, binds=binds, writable={Path(scratch): SCRATCH},
                stdin=probe.stdin.encode() if probe.stdin else None, env=probe.env,
            )  # fmt: skip
            runs.append(run)
            if not run.ok:
                break
    last = runs[-1]
    succeeded = all(run.ok for run in runs) and len(runs) == len(probe.commands)
    if succeeded and probe.stdout_must_match:
        succeeded = re.search(probe.stdout_must_match, last.stdout, re.MULTILINE) is not None
    if probe.expect is Expectation.SUCCEEDS:
        passed = succeeded
    else:
        passed = not succeeded and re.search(probe.refusal_must_match, last.stderr) is not None
    detail = (
        f"exit {last.returncode}" if last.ok else f"exit {last.returncode}: {failure_reason(last.stderr)}"
    )
    return CheckResult(
        id=probe.id,
        group=probe.group,
        description=probe.description,
        mode=probe.mode,
        expect=probe.expect,
        passed=passed,
        detail=detail,
        kernel_seeding_calls=sum(len(run.crypto_relevant_calls) for run in runs),
        denied_syscalls=sum(len(run.denied_syscalls) for run in runs),
        randomness_calls=[call for run in runs for call in run.randomness_calls],
    )


def failure_reason(stderr: str) -> str:
    """The reason (and data) of the last OpenSSL error line, else CPython's fatal error (followed by its
    runtime-state dump), else the last line of stderr."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        fields = line.split(":")
        if len(fields) >= 8 and fields[1] == "error":
            data = ":".join(fields[8:]).strip()
            return f"{fields[4]}: {fields[5]}" + (f" ({data})" if data else "")
    fatal = [line for line in lines if line.startswith("Fatal Python error: ")]
    if fatal:
        return fatal[-1][:200]
    return lines[-1][:200] if lines else "no output"


def stack_binds(staging: Path) -> dict[Path, str]:
    """Lay the staged stack over the host's Debian paths inside the sandbox (host root, read-only)."""
    return {
        staging / "usr/bin/openssl": "/usr/bin/openssl",
        staging / LIBDIR / "libcrypto.so.3": f"/{LIBDIR}/libcrypto.so.3",
        staging / LIBDIR / "libssl.so.3": f"/{LIBDIR}/libssl.so.3",
        staging / MODULES_DIR: f"/{MODULES_DIR}",
        staging / OPENSSLDIR.lstrip("/"): OPENSSLDIR,
    }


def parse_providers(listing: str) -> dict[str, str]:
    """`openssl list -providers` output as provider name -> its indented block of fields."""
    return dict(re.findall(r"^  (\w+)\n((?:    .*\n?)*)", listing, re.MULTILINE))


def identity_checks(build: StackBuild, binds: dict[Path, str]) -> list[CheckResult]:
    """JITTER seeding, active providers at 3.5.x, and the module MAC recomputed without OpenSSL."""
    root = Path("/")
    version = run_sandboxed(root, ["openssl", "version", "-r"], binds=binds)
    providers = run_sandboxed(root, ["openssl", "list", "-providers"], binds=binds)
    blocks = parse_providers(providers.stdout)
    fips_active = "fips" in blocks and "status: active" in blocks["fips"]
    base_active = "base" in blocks and "status: active" in blocks["base"]
    fips_version = re.search(r"version: (\S+)", blocks.get("fips", ""))
    fipsmodule = build.staging / OPENSSLDIR.lstrip("/") / "fipsmodule.cnf"
    recorded = read_module_mac(fipsmodule)
    computed = module_mac(build.staging / MODULES_DIR / "fips.so")
    providers_detail = (
        f"fips {'active' if fips_active else 'NOT active'} "
        f"({fips_version.group(1) if fips_version else 'no version'}), base {'active' if base_active else 'NOT active'}"
    )
    if not providers.ok:
        providers_detail += f"; {providers.stderr.strip().splitlines()[-1:]}"
    return [
        CheckResult(id="version-jitter", group="identity and integrity", description="openssl version -r names JITTER",
                    mode=EntropyMode.NORMAL, expect=Expectation.SUCCEEDS,
                    passed=version.ok and "JITTER" in version.stdout, detail=version.stdout.strip() or version.stderr),
        CheckResult(id="providers-active", group="identity and integrity",
                    description="fips and base providers active, version 3.5.x",
                    mode=EntropyMode.NORMAL, expect=Expectation.SUCCEEDS,
                    passed=providers.ok and fips_active and base_active and bool(fips_version)
                    and fips_version.group(1).startswith("3.5."), detail=providers_detail),  # type: ignore[union-attr]
        CheckResult(id="module-mac", group="identity and integrity",
                    description="fipsmodule.cnf module-mac equals HMAC-SHA256(fips.so), recomputed in Python",
                    mode=EntropyMode.NORMAL, expect=Expectation.SUCCEEDS, passed=recorded == computed,
                    detail=f"recorded {recorded[:16]}…, computed {computed[:16]}…"),
    ]  # fmt: skip


def kernel_seeded_variant(build: StackBuild) -> Path:
    """The stack with fips.so swapped for one built without enable-fips-jitter (Debian's own, same version).

    Its openssl.cnf still says `seed = JITTER`: this is the silent-fallback trap the checks must catch.
    Cached beside the stack; fipsinstall is rerun so the module loads and only its seeding differs.
    """
    variant = cache_root() / "stack-controls" / f"{build.manifest.cache_key}-kernel-seeded"
    if (variant / "rootfs" / MODULES_DIR / "fips.so").is_file():
        return variant / "rootfs"
    debian = debian_package_tree("openssl-provider-fips", build.manifest.openssl_version)
    with atomic_dir(variant) as staging:
        shutil.copytree(build.staging, staging / "rootfs", symlinks=True)
        shutil.copy2(debian / MODULES_DIR / "fips.so", staging / "rootfs" / MODULES_DIR / "fips.so")
        fipsinstall(staging / "rootfs")
    return variant / "rootfs"


def debian_package_tree(package: str, upstream: str) -> Path:
    """Debian trixie's own binary `package` of OpenSSL release `upstream`, unpacked (cached): the controls'
    stock files, e.g. Debian's fips.so (built without enable-fips-jitter) and its stock openssl.cnf."""
    tree = cache_root() / "debian-packages" / f"{package}_{upstream}"
    with exclusive_lock(tree.with_name(f".{tree.name}.lock")):
        if tree.is_dir():
            return tree
        with atomic_dir(tree) as staging, tempfile.TemporaryDirectory() as scratch:
            root = apt_root()
            madison = root.run("apt-cache", "madison", package)
            versions = [line.split("|")[1].strip() for line in madison.splitlines() if "|" in line]
            same_upstream = [version for version in versions if version.split("-")[0] == upstream]
            if not same_upstream:
                raise FipsforgeError(
                    f"{package}: no {upstream} build in trixie (found {', '.join(versions)})"
                )
            debs = root.download([f"{package}={same_upstream[0]}"], Path(scratch))
            if len(debs) != 1:
                raise FipsforgeError(f"{package}={same_upstream[0]}: not downloadable from the trixie mirror")
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(staging)], check=True)
    return tree


def fipsinstall(staging: Path) -> None:
    """Rerun `openssl fipsinstall` for the fips.so now in `staging` (after swapping or tampering)."""
    env = {"LD_LIBRARY_PATH": str(staging / LIBDIR), "OPENSSL_CONF": "/dev/null",
           "OPENSSL_MODULES": str(staging / MODULES_DIR)}  # fmt: skip
    subprocess.run(
        [str(staging / "usr/bin/openssl"), "fipsinstall", "-module", str(staging / MODULES_DIR / "fips.so"),
         "-out", str(staging / OPENSSLDIR.lstrip("/") / "fipsmodule.cnf"), "-provider_name", "fips",
         "-section_name", "fips_sect"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip


def negative_controls(build: StackBuild) -> list[CheckResult]:
    """Setups that must fail `openssl rand` with the kernel cut off, proving the check can fail."""
    rand = openssl_probes()[0]
    stock = run_probe(Path("/"), {}, rand)
    variant = kernel_seeded_variant(build)
    trap = run_probe(Path("/"), stack_binds(variant), rand)
    traced = run_sandboxed(Path("/"), ["openssl", "rand", "-hex", "32"], binds=stack_binds(variant))
    from_fips = [call for call in traced.crypto_relevant_calls if call.purpose == FIPS_PROVIDER_SEEDING]
    return [
        _control(stock, "control-debian-openssl", "Debian's stock /usr/bin/openssl rand"),
        _control(trap, "control-kernel-seeded-fips",
                 "Debian's fips.so (built without enable-fips-jitter) in our stack, openssl.cnf seed = JITTER",
                 extra=f"; in normal mode it called getrandom {len(from_fips)} times from fips.so"),
    ]  # fmt: skip


def _control(result: CheckResult, control_id: str, description: str, extra: str = "") -> CheckResult:
    """A control must fail its probe, and for lack of seed material (not for some unrelated breakage)."""
    return result.model_copy(
        update={
            "id": control_id,
            "group": "negative controls (must fail)",
            "description": description,
            "expect": Expectation.REFUSED,
            "passed": not result.passed and re.search(r"entropy|drbg", result.detail) is not None,
            "detail": result.detail + extra,
        }
    )


def check_stack(
    directory: Path | None = None,
    with_controls: bool = True,
    progress: Callable[[str], None] | None = None,
    build: StackBuild | None = None,
) -> StackCheckReport:
    """Run every acceptance check against a built stack (a `stack build --out` dir or a cache entry)."""
    if build is None:
        if directory is None:
            raise FipsforgeError("no stack given: pass a directory from `fipsforge stack build --out`")
        build = load_stack(directory)
    report = progress or (lambda _step: None)
    binds = stack_binds(build.staging)
    results = identity_checks(build, binds)
    probes: Sequence[Probe] = openssl_probes()
    for probe in probes:
        report(probe.id)
        results.append(run_probe(Path("/"), binds, probe))
    if with_controls:
        report("negative controls")
        results += negative_controls(build)
    return StackCheckReport(
        stack=build.staging,
        openssl_version=build.manifest.openssl_version,
        fips_provider_version=build.manifest.fips_provider_version,
        results=results,
    )
