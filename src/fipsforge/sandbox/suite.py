"""`fipsforge test`: an image's run-time conformance suite, in the sandbox, in both entropy modes.

The image is unpacked safely (`fipsforge.oci.unpack`), the probes that apply to what it contains are run
with the kernel's entropy present and cut off, and every getrandom call and /dev/*random open is kept
with the library that made it. Four more kinds of case sit beside the probes:

- kernel independence: per mode, no crypto-relevant request for kernel randomness (DRBG seeding);
- kernel-dependent paths: Python's own kernel-randomness paths (os.urandom, secrets, SystemRandom, the
  hash seed) lie outside the FIPS boundary; the suite shows which of them fail with the kernel cut off;
- runtimes: one module each in `fipsforge.sandbox.runtimes` (libcrypto.so.3 when there is no openssl CLI,
  PHP, curl, Node TLS, Go build info, Java providers); a runtime found without a probe is "not probed";
- fail-closed: with the CPU time-stamp counter frozen (an LD_PRELOAD shim), libjitterentropy's health
  tests trip, and every operation that needs randomness must fail, never fall back to the kernel;
- the tamper matrix (`fipsforge.sandbox.tamper`): with the FIPS configuration changed, crypto is refused.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from pathlib import Path

from pydantic import BaseModel, computed_field

from fipsforge.errors import FipsforgeError
from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox import EntropyMode, RandomnessCall, run_sandboxed
from fipsforge.sandbox.probes import (
    HASH_SEED_PROBE,
    KERNEL_PATH_CODE,
    KERNEL_PATHS,
    fips_self_test_probe,
    kernel_path_probes,
    node_probe,
    openssl_image_probes,
    python_probes,
)
from fipsforge.sandbox.runtimes import Context, runtime_plans
from fipsforge.sandbox.runtimes.libcrypto import PROBE, libcrypto_in, probe_binds
from fipsforge.sandbox.shims import FAIL_CLOSED, GETRANDOM_TRACE, preload
from fipsforge.stack.check import CheckResult, Expectation, Probe, failure_reason, run_probe

FAIL_CLOSED_GROUP = "fail-closed: jitter timer frozen"
INDEPENDENCE_GROUP = "kernel independence"
FROZEN = re.compile(r"fipsforge-fail-closed: (\d+) time-stamp counter reads frozen")
PYTHON_NAMES = ("python3", "python")


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    RISK = "risk"
    """Not refused, and nothing inside the image can refuse it (an operator's setting wins): never passed,
    never a failed exit code, always named in the report."""
    NOT_PROBED = "not probed"
    """A runtime in the image that fipsforge has no probe for: neither passed nor failed."""


class CaseResult(BaseModel):
    id: str
    group: str
    description: str
    mode: EntropyMode | None
    expect: Expectation | None
    status: Status
    detail: str
    kernel_seeding_calls: int = 0
    """Crypto-relevant requests for kernel randomness made by this case's commands."""
    variant: str | None = None
    """The tamper-matrix variant (`fipsforge.sandbox.tamper`) the case ran against."""
    non_validated_path: str | None = None
    """The function outside the FIPS module that still answers, when that is why the case failed."""


class TracedCall(RandomnessCall):
    """A randomness call, with the case and mode it was recorded in."""

    case: str
    case_mode: EntropyMode


class KernelPath(BaseModel):
    """A kernel-randomness path outside the FIPS boundary, and whether it works in each mode."""

    name: str
    works_normal: bool
    works_cut_off: bool
    detail: str


class Runtimes(BaseModel):
    """Paths inside the image of the programs the probes use (None when absent)."""

    openssl: str | None
    python: str | None
    node: str | None
    fips_module: str | None
    fips_module_config: str | None


class RandomnessGroup(BaseModel):
    """Randomness calls of one kind: the two groups an auditor asks for, split by purpose and caller."""

    mode: EntropyMode
    crypto_relevant: bool
    purpose: str
    library: str | None
    calls: int
    denied: int


def summarise(calls: list[TracedCall]) -> list[RandomnessGroup]:
    groups: dict[tuple[EntropyMode, bool, str, str | None], list[TracedCall]] = {}
    for call in calls:
        groups.setdefault((call.case_mode, call.crypto_relevant, call.purpose, call.library), []).append(call)
    return [
        RandomnessGroup(mode=mode, crypto_relevant=relevant, purpose=purpose, library=library,
                        calls=len(members), denied=sum(c.denied for c in members))
        for (mode, relevant, purpose, library), members in sorted(
            groups.items(), key=lambda item: (item[0][0], not item[0][1], item[0][2], item[0][3] or "")
        )
    ]  # fmt: skip


class RuntimeReport(BaseModel):
    image: str
    kind: str
    manifest_digest: str | None
    entrypoint: list[str]
    runtimes: Runtimes
    cases: list[CaseResult]
    randomness_calls: list[TracedCall]
    randomness_summary: list[RandomnessGroup]
    kernel_dependent_paths: list[KernelPath]

    @property
    def passed(self) -> bool:
        return all(case.status is not Status.FAILED for case in self.cases)

    @property
    def failed(self) -> list[CaseResult]:
        return [case for case in self.cases if case.status is Status.FAILED]

    @property
    def risks(self) -> list[CaseResult]:
        return [case for case in self.cases if case.status is Status.RISK]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def non_validated_paths(self) -> list[str]:
        """Functions outside the FIPS module that answered in some mode, each named once."""
        return sorted({case.non_validated_path for case in self.cases if case.non_validated_path})


def _find(rootfs: Path, dirs: list[str], names: tuple[str, ...]) -> str | None:
    for directory in dirs:
        for name in names:
            candidate = rootfs / directory.lstrip("/") / name
            if candidate.is_file() and _inside(rootfs, candidate):
                return f"{directory.rstrip('/')}/{name}"
    return None


def _inside(rootfs: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(rootfs.resolve())


def _find_python(image: UnpackedImage) -> str | None:
    """The entrypoint when it is a Python interpreter, else python3 (or python3.X) on the image's PATH."""
    rootfs, dirs = image.rootfs, image.config.path_dirs
    program = image.config.argv[0]
    if re.fullmatch(r"python[0-9.]*", Path(program).name):
        found = program if program.startswith("/") else _find(rootfs, dirs, (program,))
        if found and (rootfs / found.lstrip("/")).is_file() and _inside(rootfs, rootfs / found.lstrip("/")):
            return found
    versioned = sorted(
        {
            p.name
            for d in dirs
            for p in (rootfs / d.lstrip("/")).glob("python3.*")
            if re.fullmatch(r"python3\.\d+", p.name)
        }
    )
    return _find(rootfs, dirs, (*PYTHON_NAMES, *reversed(versioned)))


def find_runtimes(image: UnpackedImage) -> Runtimes:
    rootfs, dirs = image.rootfs, image.config.path_dirs
    modules = sorted(p for p in rootfs.glob("usr/lib*/**/ossl-modules/fips.so") if _inside(rootfs, p))
    configs = sorted(p for p in rootfs.glob("usr/lib/ssl/fipsmodule.cnf") if _inside(rootfs, p))
    configs += sorted(p for p in rootfs.glob("etc/ssl/fipsmodule.cnf") if _inside(rootfs, p))
    return Runtimes(
        openssl=_find(rootfs, dirs, ("openssl",)),
        python=_find_python(image),
        node=_find(rootfs, dirs, ("node", "nodejs")),
        fips_module=f"/{modules[0].relative_to(rootfs)}" if modules else None,
        fips_module_config=f"/{configs[0].relative_to(rootfs)}" if configs else None,
    )


def _check_entrypoint(image: UnpackedImage) -> None:
    """The image must say what it runs; that program must be in it (a test of something else proves nothing)."""
    argv = image.config.argv
    if not argv:
        raise FipsforgeError(f"{image.ref}: image config has neither Entrypoint nor Cmd: nothing to test")
    program = argv[0]
    found = _find(image.rootfs, image.config.path_dirs, (program,)) if "/" not in program else None
    path = image.rootfs / program.lstrip("/")
    if found is None and not (program.startswith("/") and path.is_file() and _inside(image.rootfs, path)):
        raise FipsforgeError(f"{image.ref}: entrypoint {program!r} is not in the image")


class _Runner:
    """Runs probes in both modes and keeps every randomness call with its case."""

    def __init__(self, image: UnpackedImage, progress: Callable[[str], None]) -> None:
        self.image = image
        self.progress = progress
        self.cases: list[CaseResult] = []
        self.calls: list[TracedCall] = []
        self.results: dict[tuple[str, EntropyMode], CheckResult] = {}
        self.trace_binds, self.trace_env = preload([GETRANDOM_TRACE])

    def env(self, mode: EntropyMode, probe_id: str, python: bool) -> dict[str, str]:
        env = {**self.image.config.env, **self.trace_env}
        if python and mode is EntropyMode.KERNEL_CUT_OFF and probe_id != HASH_SEED_PROBE:
            # CPython seeds its hash randomisation from the kernel before any user code runs; with the
            # kernel cut off it cannot start unless the seed is fixed (a path outside the FIPS boundary,
            # shown by the hash-seed probe, which runs without it).
            env["PYTHONHASHSEED"] = "0"
        return env

    def run(
        self,
        probe: Probe,
        python: bool = False,
        binds: dict[Path, str] | None = None,
        non_validated: str | None = None,
    ) -> None:
        for mode in EntropyMode:
            self.progress(f"{probe.id} ({mode.value})")
            expect = probe.expect
            if probe.group == KERNEL_PATHS and mode is EntropyMode.KERNEL_CUT_OFF:
                expect = Expectation.REFUSED
            moded = probe.model_copy(
                update={"mode": mode, "expect": expect, "env": self.env(mode, probe.id, python)}
            )
            result = run_probe(self.image.rootfs, {**self.trace_binds, **(binds or {})}, moded)
            detail = result.detail
            if not result.passed and detail == "exit 0":
                detail += ": not refused" if expect is Expectation.REFUSED else ": not the expected output"
            if not result.passed and non_validated:
                how = "answers" if result.detail == "exit 0" else "is callable"
                detail = f"non-validated path: {non_validated} {how} ({detail})"
            self.results[(probe.id, mode)] = result
            self.record(probe.id, mode, result.randomness_calls)
            self.cases.append(
                CaseResult(
                    id=probe.id, group=probe.group, description=probe.description, mode=mode, expect=expect,
                    status=Status.PASSED if result.passed else Status.FAILED, detail=detail,
                    kernel_seeding_calls=result.kernel_seeding_calls,
                    non_validated_path=None if result.passed else non_validated,
                )
            )  # fmt: skip

    def record(self, case: str, mode: EntropyMode, calls: list[RandomnessCall]) -> None:
        self.calls += [TracedCall(**call.model_dump(), case=case, case_mode=mode) for call in calls]

    def skip(self, probe_id: str, group: str, description: str, reason: str) -> None:
        self.cases.append(
            CaseResult(id=probe_id, group=group, description=description, mode=None, expect=None,
                     status=Status.SKIPPED, detail=reason)
        )  # fmt: skip

    def fail(self, probe_id: str, group: str, description: str, reason: str) -> None:
        self.cases.append(
            CaseResult(id=probe_id, group=group, description=description, mode=None, expect=Expectation.SUCCEEDS,
                     status=Status.FAILED, detail=reason)
        )  # fmt: skip


def _independence(runner: _Runner) -> None:
    """Per mode: no request for kernel randomness fed cryptography, outside the kernel-path probes."""
    excluded = {case.id for case in runner.cases if case.group in (KERNEL_PATHS, FAIL_CLOSED_GROUP)}
    for mode in EntropyMode:
        calls = [c for c in runner.calls if c.case_mode is mode and c.case not in excluded]
        relevant = [c for c in calls if c.crypto_relevant]
        by_purpose: dict[str, int] = {}
        for call in relevant:
            key = f"{call.purpose} ({call.library})"
            by_purpose[key] = by_purpose.get(key, 0) + 1
        detail = (
            f"{len(calls)} randomness requests, none crypto-relevant"
            if not relevant
            else "crypto-relevant: " + "; ".join(f"{n} x {key}" for key, n in sorted(by_purpose.items()))
        )
        runner.cases.append(
            CaseResult(id="no-kernel-seeding", group=INDEPENDENCE_GROUP, mode=mode, expect=Expectation.SUCCEEDS,
                     description="no DRBG seeding from getrandom or /dev/*random (every call attributed)",
                     status=Status.FAILED if relevant else Status.PASSED, detail=detail,
                     kernel_seeding_calls=len(relevant))
        )  # fmt: skip


def _kernel_paths(runner: _Runner) -> list[KernelPath]:
    """Every kernel-path probe that ran (Python's, a runtime module's), with how it did in each mode."""
    paths = []
    for case in runner.cases:
        if case.group != KERNEL_PATHS or case.mode is not EntropyMode.NORMAL:
            continue
        normal = runner.results[(case.id, EntropyMode.NORMAL)]
        cut = runner.results.get((case.id, EntropyMode.KERNEL_CUT_OFF))
        if cut is not None:
            name = KERNEL_PATH_CODE[case.id][0] if case.id in KERNEL_PATH_CODE else case.description
            works_cut = cut.detail.startswith("exit 0")
            paths.append(
                KernelPath(name=name, works_normal=normal.passed, works_cut_off=works_cut, detail=cut.detail)
            )
    return paths


def _fail_closed(runner: _Runner, runtimes: Runtimes) -> None:
    """Freeze the timer libjitterentropy reads; randomness must fail, a digest (no randomness) must not."""
    cli = runtimes.openssl is not None
    if not cli and libcrypto_in(runner.image) is None:
        runner.skip("fail-closed", FAIL_CLOSED_GROUP, "operations needing randomness fail with jitter frozen",
                    "neither an openssl CLI nor libcrypto.so.3 in the image to drive the case")  # fmt: skip
        return
    binds, env = preload([GETRANDOM_TRACE, FAIL_CLOSED])
    binds = binds if cli else {**binds, **probe_binds()}
    env = {**runner.image.config.env, **env}
    # each case names the probe that must pass with the live timer: the failure must be the frozen timer's
    commands = {
        "fail-closed-rand": (["openssl", "rand", "-hex", "32"], "rand", "openssl rand fails, no kernel fallback"),
        "fail-closed-ec-keygen": (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                                  "ec-p256-keygen", "EC P-256 key generation fails, no kernel fallback"),
    } if cli else {  # the image's libcrypto.so.3 through fipsforge's probe program
        "fail-closed-rand": ([PROBE, "rand"], "libcrypto-rand", "RAND_bytes fails, no kernel fallback"),
        "fail-closed-ec-keygen": ([PROBE, "ec-p256-keygen"], "libcrypto-ec-p256-keygen",
                                  "EC P-256 key generation fails, no kernel fallback"),
    }  # fmt: skip
    for mode in EntropyMode:
        for case_id, (argv, baseline_id, description) in commands.items():
            runner.progress(f"{case_id} ({mode.value})")
            run = run_sandboxed(runner.image.rootfs, argv, mode=mode, binds=binds, env=env)
            runner.record(case_id, mode, run.randomness_calls)
            frozen = FROZEN.search(run.stderr)
            reads = int(frozen.group(1)) if frozen else 0
            kernel = [c for c in run.randomness_calls if c.crypto_relevant and not c.denied]
            refused = not run.ok and re.search(r"error state|entropy|drbg|DRBG", run.stderr) is not None
            baseline = runner.results.get((baseline_id, mode))
            live = baseline is not None and baseline.passed
            passed = refused and not kernel and reads > 0 and live
            detail = (
                f"{'works' if live else 'FAILS'} with the live timer ({baseline_id}); frozen: "
                f"{'refused' if refused else 'NOT refused'} (exit {run.returncode}: "
                f"{failure_reason(FROZEN.sub('', run.stderr))}); {reads} timer reads frozen; "
                f"{len(kernel)} kernel seeding calls answered"
            )
            runner.cases.append(
                CaseResult(id=case_id, group=FAIL_CLOSED_GROUP, description=description, mode=mode,
                         expect=Expectation.REFUSED, status=Status.PASSED if passed else Status.FAILED,
                         detail=detail, kernel_seeding_calls=len(kernel))
            )  # fmt: skip
    # control: the shim only takes the noise source away; an operation without randomness still works
    control = Probe(id="fail-closed-control-digest", group=FAIL_CLOSED_GROUP,
                    description="control: SHA-256 (no randomness needed) still works with the timer frozen",
                    commands=[["openssl", "dgst", "-sha256"] if cli else [PROBE, "sha256"]], stdin="abc",
                    expect=Expectation.SUCCEEDS,
                    stdout_must_match=r"= ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad$",
                    mode=EntropyMode.KERNEL_CUT_OFF, env=env)  # fmt: skip
    result = run_probe(runner.image.rootfs, binds, control)
    runner.record(control.id, control.mode, result.randomness_calls)
    runner.cases.append(
        CaseResult(id=control.id, group=FAIL_CLOSED_GROUP, description=control.description, mode=control.mode,
                 expect=control.expect, status=Status.PASSED if result.passed else Status.FAILED, detail=result.detail)
    )  # fmt: skip


def _runtime_probes(runner: _Runner, runtimes: Runtimes) -> None:
    """The probes of `fipsforge.sandbox.runtimes`, each module chosen by what the image holds."""
    image = runner.image
    with tempfile.TemporaryDirectory(prefix="fipsforge-runtimes-") as scratch:
        find = partial(_find, image.rootfs, image.config.path_dirs)
        context = Context(find=find, openssl_cli=runtimes.openssl, scratch=Path(scratch))
        for plan in runtime_plans(image, context):
            for check in plan.checks:
                runner.run(check.probe, binds=plan.binds, non_validated=check.non_validated)
            runner.cases += [
                CaseResult(id=found.id, group=found.group, description=found.description, mode=None,
                           expect=None if found.outcome == "not probed" else Expectation.SUCCEEDS,
                           status=Status(found.outcome), detail=found.detail, non_validated_path=found.non_validated)
                for found in plan.findings
            ]  # fmt: skip


def _services(runner: _Runner) -> None:
    """Each service the image records, started and probed over TLS in both modes (`sandbox.services`)."""
    from fipsforge.image.workload import read_services
    from fipsforge.sandbox.services import probe_service

    env = {**runner.image.config.env, **runner.trace_env}
    with tempfile.TemporaryDirectory(prefix="fipsforge-services-") as scratch:
        for service in read_services(runner.image.rootfs):
            for mode in EntropyMode:
                runner.progress(f"service {service.name} ({mode.value})")
                run = probe_service(runner.image, service, mode, runner.trace_binds, env, Path(scratch))
                runner.record(f"service-{service.name}", mode, run.calls)
                runner.cases += [
                    CaseResult(id=c.id, group=c.group, description=c.description, mode=c.mode, expect=c.expect,
                               status=Status.SKIPPED if c.passed is None else Status.PASSED if c.passed
                               else Status.FAILED, detail=c.detail, kernel_seeding_calls=c.kernel_seeding_calls)
                    for c in run.cases
                ]  # fmt: skip


def run_suite(image: UnpackedImage, progress: Callable[[str], None] | None = None) -> RuntimeReport:
    """Run every applicable probe against an unpacked image; see the module docstring."""
    _check_entrypoint(image)
    if shutil.which("cc") is None:
        raise FipsforgeError("cc: not installed (needed to build the sandbox's LD_PRELOAD shims)")
    runtimes = find_runtimes(image)
    runner = _Runner(image, progress or (lambda _step: None))
    if runtimes.openssl is None:
        runner.skip("openssl", "OpenSSL", "OpenSSL CLI probes", "no openssl executable on the image's PATH")
    else:
        if runtimes.fips_module and runtimes.fips_module_config:
            runner.run(fips_self_test_probe(runtimes.fips_module, runtimes.fips_module_config))
        else:
            runner.fail("fips-self-test", "OpenSSL: providers", "FIPS module self-test on load",
                        "no FIPS provider in the image (no ossl-modules/fips.so with a fipsmodule.cnf)")  # fmt: skip
        for probe in openssl_image_probes():
            runner.run(
                probe.model_copy(update={"commands": [[runtimes.openssl, *c[1:]] for c in probe.commands]})
            )
    if runtimes.python is None:
        runner.skip("python", "Python", "Python probes", "no python3 executable on the image's PATH")
    else:
        for probe in [*python_probes(runtimes.python, runtimes.openssl is not None),
                      *kernel_path_probes(runtimes.python)]:  # fmt: skip
            runner.run(probe, python=True)
    if runtimes.node is None:
        runner.skip("node-fips", "Node.js", "Node.js crypto probes", "no node executable on the image's PATH")
    else:
        runner.run(node_probe(runtimes.node))
    _runtime_probes(runner, runtimes)
    _services(runner)
    _independence(runner)
    _fail_closed(runner, runtimes)
    from fipsforge.sandbox.tamper import tamper_matrix  # it builds on this module's models

    runner.cases += tamper_matrix(image, runtimes, runner.progress)
    return RuntimeReport(
        image=image.ref, kind=image.kind, manifest_digest=image.manifest_digest, entrypoint=image.config.argv,
        runtimes=runtimes, cases=runner.cases, randomness_calls=runner.calls,
        randomness_summary=summarise(runner.calls),
        kernel_dependent_paths=_kernel_paths(runner),
    )  # fmt: skip
