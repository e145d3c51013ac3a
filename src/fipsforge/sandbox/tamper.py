"""The tamper matrix of `fipsforge test`: change the image's FIPS configuration, and the runtime must refuse.

Each variant is one change that a layer, a volume mount or a deployment's environment can make to a FIPS
image (`fipsmodule.cnf` removed or with a wrong module-mac, `fips.so` swapped for Debian's own,
Debian's stock `openssl.cnf` mounted over ours, `OPENSSL_CONF` or `OPENSSL_MODULES` set). The variant
is laid over the unpacked image in the sandbox (files bound over the image's own, a directory copy for a
removal) and every runtime in the image (openssl CLI, Python, Node.js) tries MD5, SHA-256 and random
bytes, in both entropy modes. A case passes only if none of the three works *and* the same runtime, in
the same mode, on the untampered image computes SHA-256 and random bytes and refuses MD5 (the
matrix's control case): the refusal must be the variant's doing.

A variant that the image cannot refuse by its own configuration (an environment variable or a file the
operator mounts wins over anything inside) is `risk` when its runtime does not refuse: never passed,
never a failed exit code, named in every report. `fipsforge evidence` flags those settings in manifests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox import EntropyMode, SandboxResult, run_sandboxed
from fipsforge.sandbox.shims import GETRANDOM_TRACE, preload
from fipsforge.sandbox.suite import CaseResult, Runtimes, Status
from fipsforge.stack.check import Expectation, debian_package_tree, failure_reason
from fipsforge.stack.config import OPENSSLDIR
from fipsforge.stack.sources import OPENSSL_VERSION

TAMPER_GROUP = "tamper matrix: a changed FIPS configuration must refuse crypto"
CONTROL = "untampered"
OPERATIONS = ("md5", "sha256", "rand")
WORKED = "worked"
OPENSSL_UPSTREAM = OPENSSL_VERSION.split("-")[0]

PYTHON_ATTEMPTS = """
import json
out = {"started": True}
def attempt(name, operation):
    try:
        operation()
        out[name] = "worked"
    except Exception as error:
        out[name] = f"refused: {type(error).__name__}: {error}"[:160]
import hashlib
attempt("md5", lambda: hashlib.md5(b"abc").hexdigest())
attempt("sha256", lambda: hashlib.sha256(b"abc").hexdigest())
attempt("rand", lambda: __import__("ssl").RAND_bytes(16))
attempt("tls-context", lambda: __import__("ssl").create_default_context())
print(json.dumps(out))
"""
NODE_ATTEMPTS = r"""
const out = {started: true};
const attempt = (name, operation) => {
  try { operation(); out[name] = "worked"; } catch (e) { out[name] = "refused: " + String(e.message).slice(0, 160); }
};
const crypto = require("crypto");
attempt("md5", () => crypto.createHash("md5").update("abc").digest("hex"));
attempt("sha256", () => crypto.createHash("sha256").update("abc").digest("hex"));
attempt("rand", () => crypto.randomBytes(16));
console.log(JSON.stringify(out));
"""
OPENSSL_ATTEMPTS = {
    "md5": (["dgst", "-md5"], r"= [0-9a-f]{32}$"),
    "sha256": (["dgst", "-sha256"], r"= [0-9a-f]{64}$"),
    "rand": (["rand", "-hex", "16"], r"^[0-9a-f]{32}$"),
}


class Setup(BaseModel):
    """How a variant is laid over the image in the sandbox."""

    binds: dict[Path, str] = {}
    env: dict[str, str] = {}


class Target(BaseModel):
    """The image being tampered with: its rootfs, where its FIPS files are, and a scratch directory."""

    rootfs: Path
    fips_module: str
    fips_module_config: str
    scratch: Path


def _copy_without(rootfs: Path, path: str, dest: Path) -> tuple[Path, str]:
    """A copy of the directory holding `path` (inside the image) without that file, to bind over it."""
    directory = str(Path(path).parent)
    shutil.copytree(rootfs / directory.lstrip("/"), dest, symlinks=True)
    (dest / Path(path).name).unlink()
    return dest, directory


def _wrong_mac(text: str) -> str:
    """The same fipsmodule.cnf with the module-mac's last hex digit changed."""

    def flip(match: re.Match[str]) -> str:
        value = match.group(2)
        return match.group(1) + value[:-1] + ("0" if value[-1] != "0" else "1")

    changed, count = re.subn(r"^(\s*module-mac\s*=\s*)(\S+)", flip, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise FipsforgeError("fipsmodule.cnf: no module-mac line to change")
    return changed


def _real_path(rootfs: Path, path: str) -> str:
    """`path` inside the image with a final symlink followed inside the image: a bind must name the file
    itself (Debian links /usr/lib/ssl/openssl.cnf to /etc/ssl/openssl.cnf)."""
    for _ in range(8):
        link = rootfs / path.lstrip("/")
        if not link.is_symlink():
            break
        pointed = os.readlink(link)
        path = pointed if pointed.startswith("/") else os.path.normpath(f"{Path(path).parent}/{pointed}")
    return path


def _fipsmodule_missing(target: Target) -> Setup:
    directory, inside = _copy_without(target.rootfs, target.fips_module_config, target.scratch / "ssl")
    return Setup(binds={directory: inside})


def _fipsmodule_changed(target: Target, change: Callable[[str], str]) -> Setup:
    changed = target.scratch / "fipsmodule.cnf"
    changed.write_text(change((target.rootfs / target.fips_module_config.lstrip("/")).read_text()))
    return Setup(binds={changed: _real_path(target.rootfs, target.fips_module_config)})


def _stock_openssl_cnf(target: Target) -> Setup:
    stock = debian_package_tree("openssl", OPENSSL_UPSTREAM) / "etc/ssl/openssl.cnf"
    return Setup(binds={stock: _real_path(target.rootfs, f"{OPENSSLDIR}/openssl.cnf")})


def _debian_fips_so(target: Target) -> Setup:
    debian = debian_package_tree("openssl-provider-fips", OPENSSL_UPSTREAM)
    module = next(debian.glob("usr/lib/*/ossl-modules/fips.so"), None)
    if module is None:
        raise FipsforgeError(
            f"openssl-provider-fips {OPENSSL_UPSTREAM}: no ossl-modules/fips.so in the package"
        )
    return Setup(binds={module: target.fips_module})


class Variant(BaseModel):
    id: str
    description: str
    setup: Callable[[Target], Setup]
    refusable: bool = True
    """False when nothing inside the image can refuse it: `risk`, not `failed`, when it is not refused."""
    guard: str = ""
    """For a variant that is not refusable: why, and what guards it instead."""


VARIANTS = [
    Variant(id="fipsmodule-missing", description="fipsmodule.cnf removed (a layer or a volume over the directory)",
            setup=_fipsmodule_missing),
    Variant(id="fipsmodule-wrong-mac", description="fipsmodule.cnf with a wrong module-mac",
            setup=lambda target: _fipsmodule_changed(target, _wrong_mac)),
    Variant(id="fipsmodule-unparsable", description="fipsmodule.cnf with a line OpenSSL cannot parse",
            setup=lambda target: _fipsmodule_changed(target, lambda text: text + "this line has no equals sign\n"),
            refusable=False,
            guard="OpenSSL discards a configuration it cannot parse as a whole, base activation included, and "
                  "falls back to the default provider; no configuration refuses that (verify flags it: CONF007)"),
    Variant(id="stock-openssl-cnf", description="openssl.cnf replaced by Debian's stock one (a ConfigMap mount)",
            setup=_stock_openssl_cnf, refusable=False,
            guard="a file mounted over openssl.cnf replaces the image's configuration; evidence flags volumes "
                  f"mounted over {OPENSSLDIR} and /etc/ssl"),
    Variant(id="openssl-conf-dev-null", description="OPENSSL_CONF=/dev/null in the environment",
            setup=lambda _target: Setup(env={"OPENSSL_CONF": "/dev/null"}), refusable=False,
            guard="OPENSSL_CONF set by the operator replaces the image's configuration; evidence flags it"),
    Variant(id="openssl-modules-elsewhere", description="OPENSSL_MODULES pointing at a directory without fips.so",
            setup=lambda _target: Setup(env={"OPENSSL_MODULES": "/tmp"})),
    Variant(id="debian-fips-so", description="fips.so replaced by Debian's own (openssl-provider-fips)",
            setup=_debian_fips_so),
]  # fmt: skip


class Attempts(BaseModel):
    """What one runtime managed under one variant: each operation's outcome, and whether it started."""

    started: bool
    outcomes: dict[str, str]
    kernel_seeding_calls: int
    reason: str

    @property
    def refused(self) -> bool:
        return not any(self.outcomes.get(op) == WORKED for op in OPERATIONS)

    @property
    def fips_conformant(self) -> bool:
        """The control's expectation: SHA-256 and random bytes work, MD5 does not."""
        ok = self.outcomes
        return ok.get("sha256") == WORKED and ok.get("rand") == WORKED and ok.get("md5") != WORKED

    def summary(self) -> str:
        if not self.started:
            return f"refused at start ({self.reason})"
        parts = [f"{op} {'WORKED' if value == WORKED else 'refused'}" for op, value in self.outcomes.items()]
        return ", ".join(parts) + (f" ({self.reason})" if self.refused else "")


Runner = Callable[[list[str], EntropyMode, Setup, bytes | None], SandboxResult]


def _attempt_openssl(
    run: Runner, openssl: str, mode: EntropyMode, setup: Setup, expect_refusal: bool
) -> Attempts:
    """One CLI run per operation; where refusal is expected, the first that works settles the case."""
    outcomes, calls, reasons, started = {}, 0, [], True
    for op, (args, answer) in OPENSSL_ATTEMPTS.items():
        result = run([openssl, *args], mode, setup, b"abc")
        calls += len([c for c in result.randomness_calls if c.crypto_relevant and not c.denied])
        worked = result.ok and re.search(answer, result.stdout, re.MULTILINE) is not None
        outcomes[op] = WORKED if worked else f"refused: {failure_reason(result.stderr)}"
        started = started and "Startup failure" not in result.stderr
        if not worked:
            reasons.append(failure_reason(result.stderr))
        elif expect_refusal:
            break
    return Attempts(
        started=started, outcomes=outcomes, kernel_seeding_calls=calls, reason=reasons[-1] if reasons else ""
    )


def _start_failure(stderr: str) -> str:
    """Why a runtime did not start: Node's failed assertion (it checks its CSPRNG at start and aborts with
    a native stack trace), else OpenSSL's or CPython's own reason."""
    assertion = re.search(r"Assertion failed: (.*)", stderr)
    return assertion.group(1).strip() if assertion else failure_reason(stderr)


def _attempt_script(run: Runner, argv: list[str], mode: EntropyMode, setup: Setup) -> Attempts:
    result = run(argv, mode, setup, None)
    calls = len([c for c in result.randomness_calls if c.crypto_relevant and not c.denied])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return Attempts(
            started=False, outcomes={}, kernel_seeding_calls=calls, reason=_start_failure(result.stderr)
        )
    outcomes = {k: str(v) for k, v in json.loads(lines[-1]).items() if k != "started"}
    reason = next((v.removeprefix("refused: ") for v in outcomes.values() if v != WORKED), "")
    return Attempts(started=True, outcomes=outcomes, kernel_seeding_calls=calls, reason=reason)


def _attempt_all(
    run: Runner, runtimes: Runtimes, mode: EntropyMode, setup: Setup | None
) -> dict[str, Attempts]:
    """Each runtime's attempts under one variant's setup (None: the untampered control), for every runtime
    the image has: the openssl CLI, Python, Node.js."""
    expect_refusal, setup = setup is not None, setup or Setup()
    found: dict[str, Attempts] = {}
    if runtimes.openssl:
        found["openssl"] = _attempt_openssl(run, runtimes.openssl, mode, setup, expect_refusal)
    if runtimes.python:
        python_setup = setup
        if mode is EntropyMode.KERNEL_CUT_OFF:  # CPython cannot start without a kernel hash seed otherwise
            python_setup = setup.model_copy(update={"env": {**setup.env, "PYTHONHASHSEED": "0"}})
        found["python"] = _attempt_script(run, [runtimes.python, "-c", PYTHON_ATTEMPTS], mode, python_setup)
    if runtimes.node:
        found["node"] = _attempt_script(run, [runtimes.node, "-e", NODE_ATTEMPTS], mode, setup)
    return found


def _case(
    variant: Variant | None, runtime: str, mode: EntropyMode, got: Attempts, control: Attempts | None
) -> CaseResult:
    if variant is None:
        status = Status.PASSED if got.fips_conformant else Status.FAILED
        return CaseResult(
            id=f"tamper-{CONTROL}-{runtime}", group=TAMPER_GROUP, variant=CONTROL, mode=mode,
            description=f"control: the untampered image's {runtime} computes SHA-256 and random bytes, refuses MD5",
            expect=Expectation.SUCCEEDS, status=status, detail=got.summary(),
            kernel_seeding_calls=got.kernel_seeding_calls,
        )  # fmt: skip
    works = control is not None and control.fips_conformant
    if got.refused and works:
        status, detail = Status.PASSED, got.summary()
    elif got.refused:
        status, detail = Status.FAILED, f"{got.summary()}; but the untampered image fails too: proves nothing"
    elif variant.refusable:
        status, detail = Status.FAILED, f"NOT refused: {got.summary()}"
    else:
        status, detail = Status.RISK, f"not refused: {got.summary()}; {variant.guard}"
    return CaseResult(
        id=f"tamper-{variant.id}-{runtime}", group=TAMPER_GROUP, variant=variant.id, mode=mode,
        description=f"{variant.description}: {runtime} refuses MD5, SHA-256 and random bytes",
        expect=Expectation.REFUSED, status=status, detail=detail, kernel_seeding_calls=got.kernel_seeding_calls,
    )  # fmt: skip


def tamper_matrix(
    image: UnpackedImage,
    runtimes: Runtimes,
    progress: Callable[[str], None] | None = None,
    variants: list[Variant] = VARIANTS,
) -> list[CaseResult]:
    """Every variant against every runtime in `runtimes`, in both modes, after the untampered control."""
    report = progress or (lambda _step: None)
    if runtimes.fips_module is None or runtimes.fips_module_config is None:
        return [CaseResult(id="tamper", group=TAMPER_GROUP, description="tamper matrix", mode=None, expect=None,
                           status=Status.SKIPPED, detail="no FIPS provider with a fipsmodule.cnf in the image")]  # fmt: skip
    trace_binds, trace_env = preload([GETRANDOM_TRACE])

    def run(argv: list[str], mode: EntropyMode, setup: Setup, stdin: bytes | None) -> SandboxResult:
        env = {**image.config.env, **trace_env, **setup.env}
        result = run_sandboxed(
            image.rootfs, argv, mode=mode, binds={**trace_binds, **setup.binds}, env=env, stdin=stdin
        )
        sandbox_error = re.search(r"^bwrap: .*$", result.stderr, re.MULTILINE)
        if sandbox_error:  # the variant was never laid over the image: its "refusal" would prove nothing
            raise FipsforgeError(f"sandbox: {sandbox_error.group(0)}")
        return result

    cases: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="fipsforge-tamper-") as scratch_dir:
        scratch = Path(scratch_dir)
        controls = {}
        for mode in EntropyMode:
            report(f"tamper: {CONTROL} ({mode.value})")
            controls[mode] = _attempt_all(run, runtimes, mode, None)
            cases += [_case(None, name, mode, got, None) for name, got in controls[mode].items()]
        for variant in variants:
            (scratch / variant.id).mkdir()
            try:
                target = Target(rootfs=image.rootfs, fips_module=runtimes.fips_module,
                                fips_module_config=runtimes.fips_module_config, scratch=scratch / variant.id)  # fmt: skip
                setup = variant.setup(target)
            except FipsforgeError as error:
                cases.append(CaseResult(id=f"tamper-{variant.id}", group=TAMPER_GROUP, variant=variant.id,
                                        description=variant.description, mode=None, expect=Expectation.REFUSED,
                                        status=Status.SKIPPED, detail=f"variant not built: {error}"))  # fmt: skip
                continue
            for mode in EntropyMode:
                report(f"tamper: {variant.id} ({mode.value})")
                try:
                    attempts = _attempt_all(run, runtimes, mode, setup)
                except FipsforgeError as error:
                    cases.append(CaseResult(id=f"tamper-{variant.id}", group=TAMPER_GROUP, variant=variant.id,
                                            description=variant.description, mode=mode, expect=Expectation.REFUSED,
                                            status=Status.FAILED, detail=f"not laid over the image: {error}"))  # fmt: skip
                    continue
                cases += [
                    _case(variant, name, mode, got, controls[mode].get(name))
                    for name, got in attempts.items()
                ]
    return cases
