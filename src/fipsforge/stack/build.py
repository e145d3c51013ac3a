"""Build the stack: a static libjitterentropy, then OpenSSL with `enable-fips-jitter`, staged at Debian's paths.

The staged tree uses the paths Debian's runtimes load from (OPENSSLDIR `/usr/lib/ssl`, libdir
`usr/lib/x86_64-linux-gnu`, modules in `ossl-modules`), so the image builder can lay it over Debian
packages unchanged. It is cached in two layers, each appearing atomically only once it succeeded:
`stack-compiled/<compile key>` holds the compiled tree with its `fipsmodule.cnf`, keyed on the SHA-256 of
every source and build option; `stack/<key>` adds the hardened `openssl.cnf` and the manifest. A change to
the configuration alone therefore costs a copy, not an OpenSSL (and CPython) rebuild.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from debian.changelog import Changelog
from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir, cache_root, exclusive_lock, sha256_file
from fipsforge.stack.config import OPENSSLDIR, hardened_openssl_cnf, read_module_mac, relocated_openssl_cnf
from fipsforge.stack.integrity import module_mac
from fipsforge.stack.sources import (
    JITTERENTROPY_PACKAGE,
    JITTERENTROPY_VERSION,
    OPENSSL_PACKAGE,
    OPENSSL_VERSION,
    SourcePackage,
    extract,
    fetch_source_package,
)

LIBDIR = "usr/lib/x86_64-linux-gnu"
MODULES_DIR = f"{LIBDIR}/ossl-modules"
RECIPE_VERSION = 2
STAGED_OPENSSL_CNF = "openssl.cnf"
"""Beside `rootfs/` in a `--out` tree: the hardened config with its include pointing into that tree."""

# libjitterentropy must not be optimised (its sources #error on __OPTIMIZE__); -fPIC because it is linked
# into libcrypto.so and fips.so. The other flags are the library's own hardening flags.
JITTER_CFLAGS = [
    "-O0", "-fPIC", "-fwrapv", "-fvisibility=hidden", "-fstack-protector-strong",
    "--param", "ssp-buffer-size=4", "-Wall", "-Wextra",
]  # fmt: skip

# No loadable engines: each is code outside the FIPS boundary that a config line or ENGINE_by_id() could
# bring in (padlock's own AES, afalg's route to the kernel's crypto API, loader_attic's legacy key loaders;
# capi is Windows-only). The ENGINE API itself stays, as programs built against Debian's libssl3 link it.
OPENSSL_CONFIGURE = [
    "linux-x86_64", "--prefix=/usr", f"--openssldir={OPENSSLDIR}", "--libdir=lib/x86_64-linux-gnu",
    "enable-fips", "enable-jitter", "enable-fips-jitter", "no-legacy", "no-tests", "no-docs", "shared",
    "no-afalgeng", "no-padlockeng", "no-capieng", "no-loadereng",
]  # fmt: skip


class StackOptions(BaseModel):
    openssl_version: str = OPENSSL_VERSION
    jitterentropy_version: str = JITTERENTROPY_VERSION
    fips_provider_source: Path | None = None
    """A separately supplied OpenSSL release (e.g. a CMVP-validated one) to build fips.so from."""
    fips_provider_sha256: str | None = None
    jobs: int = os.cpu_count() or 2


class FipsProviderPairing(BaseModel):
    """fips.so built from a separate release and paired with this stack's libcrypto."""

    source: str
    sha256: str
    provider_version: str


class StackManifest(BaseModel):
    openssl_version: str
    openssl_version_text: str
    fips_provider_name: str
    fips_provider_version: str
    jitterentropy_version: str
    jent_version: int
    seeding_source: str
    configure: str
    debian_sources: dict[str, str]
    inputs: dict[str, str]
    """SHA-256 of every input file, by file name."""
    module_mac: str
    pairing: FipsProviderPairing | None = None
    compile_key: str
    """Key of the compiled tree: what binaries built against this stack (CPython) depend on."""
    cache_key: str


class CompiledStack(BaseModel):
    """What the compile layer records beside its tree, for the configured layer's manifest."""

    configure: str
    inputs: dict[str, str]
    pairing: FipsProviderPairing | None = None


class StackBuild(BaseModel):
    staging: Path
    manifest: StackManifest


Progress = Callable[[str], None]


def check_pairing_input(options: StackOptions) -> None:
    """Validate `--fips-provider-source/--fips-provider-sha256` before anything else happens."""
    source, expected = options.fips_provider_source, options.fips_provider_sha256
    if source is None and expected is None:
        return
    if source is None or expected is None:
        raise FipsforgeError("--fips-provider-source and --fips-provider-sha256 must be given together")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", expected):
        raise FipsforgeError(f"--fips-provider-sha256: {expected!r} is not a SHA-256 hex digest")
    if not source.is_file():
        raise FipsforgeError(f"{source}: no such file (--fips-provider-source)")
    actual = sha256_file(source)
    if actual != expected.lower():
        raise FipsforgeError(
            f"{source}: SHA-256 is {actual}, not {expected.lower()} (--fips-provider-sha256)"
        )


def compile_key(options: StackOptions, inputs: dict[str, str]) -> str:
    recipe = {
        "recipe": RECIPE_VERSION,
        "jitter_cflags": JITTER_CFLAGS,
        "configure": OPENSSL_CONFIGURE,
        "inputs": inputs,
        "versions": [options.openssl_version, options.jitterentropy_version],
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:24]


def cache_key(compiled_key: str) -> str:
    recipe = {"compiled": compiled_key, "openssl_cnf": hardened_openssl_cnf()}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:24]


def build_stack(
    options: StackOptions | None = None, out: Path | None = None, progress: Progress | None = None
) -> StackBuild:
    """Build (or take from the cache) the stack and return the staged tree and its manifest.

    With `out`, the staged tree is also copied there (atomically), with an `openssl.cnf` beside it that
    runs it in place (`out_environment`), and that copy is returned. A paired
    build reuses the plain stack's libcrypto and replaces only fips.so.
    """
    options = options or StackOptions()
    report = progress or (lambda _step: None)
    check_pairing_input(options)
    compiled = compile_stack(options, report)
    key = cache_key(compiled.name)
    entry = cache_root() / "stack" / key
    with exclusive_lock(entry.with_name(f".{key}.lock")):
        if not (entry / "manifest.json").is_file():
            with atomic_dir(entry) as staging_entry, tempfile.TemporaryDirectory() as scratch:
                report("openssl.cnf")
                shutil.copytree(compiled / "rootfs", staging_entry / "rootfs", symlinks=True)
                staging = staging_entry / "rootfs"
                (staging / OPENSSLDIR.lstrip("/") / "openssl.cnf").write_text(hardened_openssl_cnf())
                record = CompiledStack.model_validate_json((compiled / "compiled.json").read_text())
                env = staged_environment(staging, scratch=Path(scratch))
                manifest = describe(staging, env, record, compiled.name, key, options)
                (staging_entry / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")
    build = load_stack(entry)
    if out is None:
        return build
    with atomic_dir(out) as copy:
        shutil.copytree(build.staging, copy / "rootfs", symlinks=True)
        shutil.copy2(entry / "manifest.json", copy / "manifest.json")
        # the tree's own openssl.cnf keeps Debian's paths (for images); runs in place use this one
        relocated_openssl_cnf(out / "rootfs", copy / STAGED_OPENSSL_CNF)
    return load_stack(out)


def out_environment(directory: Path) -> dict[str, str]:
    """The three variables that run a `stack build --out` tree in place, from any directory."""
    root = directory.resolve()
    return {
        "OPENSSL_CONF": str(root / STAGED_OPENSSL_CNF),
        "OPENSSL_MODULES": str(root / "rootfs" / MODULES_DIR),
        "LD_LIBRARY_PATH": str(root / "rootfs" / LIBDIR),
    }


def compile_stack(options: StackOptions, report: Progress) -> Path:
    """The compiled tree (libraries, CLI, fips.so and its fipsmodule.cnf) for `options`, from the cache."""
    report("sources")
    openssl = fetch_source_package(OPENSSL_PACKAGE, options.openssl_version)
    jitter = fetch_source_package(JITTERENTROPY_PACKAGE, options.jitterentropy_version)
    inputs = {**openssl.sha256, **jitter.sha256}
    base = None
    if options.fips_provider_source is not None and options.fips_provider_sha256 is not None:
        base = compile_stack(
            options.model_copy(update={"fips_provider_source": None, "fips_provider_sha256": None}), report
        )
        inputs[options.fips_provider_source.name] = options.fips_provider_sha256.lower()
    key = compile_key(options, inputs)
    entry = cache_root() / "stack-compiled" / key
    with exclusive_lock(entry.with_name(f".{key}.lock")):
        if not (entry / "compiled.json").is_file():
            with atomic_dir(entry) as staging_entry, _build_directory(key) as work:
                if base is None:
                    _build_into(staging_entry, work, options, openssl, jitter, inputs, key, report)
                else:
                    _pair_into(staging_entry, work, base, options, inputs, key, report)
    return entry


@contextlib.contextmanager
def _build_directory(key: str) -> Iterator[Path]:
    """A build directory fixed by the inputs alone, not by the cache's location.

    OpenSSL embeds its build paths in the binaries (`compiler:` flags, include paths), so two cold builds
    with different `FIPSFORGE_CACHE` directories must compile in the same place to be byte-identical.
    """
    work = Path(tempfile.gettempdir()) / "fipsforge-build" / f"stack-{key}"
    with exclusive_lock(work.with_name(f".{work.name}.lock")):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)


def load_stack(directory: Path) -> StackBuild:
    """Read a built stack directory (`rootfs/` and `manifest.json`)."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise FipsforgeError(
            f"{directory}: not a built stack (no manifest.json); run `fipsforge stack build`"
        )
    return StackBuild(
        staging=directory / "rootfs",
        manifest=StackManifest.model_validate_json(manifest_path.read_text()),
    )


def _run(command: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("a") as stream:
        stream.write(f"\n$ {' '.join(command)}\n")
        stream.flush()
        done = subprocess.run(command, cwd=cwd, stdout=stream, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        raise FipsforgeError(f"{command[0]} failed (exit {done.returncode}), see {log}: {' '.join(tail)}")


def _log_file(key: str) -> Path:
    logs = cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"stack-{key}.log"
    log.write_text("")
    return log


def _build_into(
    entry: Path,
    work: Path,
    options: StackOptions,
    openssl: SourcePackage,
    jitter: SourcePackage,
    inputs: dict[str, str],
    key: str,
    report: Progress,
) -> None:
    log = _log_file(key)
    staging = entry / "rootfs"
    build_env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch(openssl))}
    report("libjitterentropy")
    jitter_dir = build_jitterentropy(extract(jitter.file(".orig.tar.xz"), work / "jitter"), log)
    report("configure OpenSSL")
    source = extract(openssl.file(".orig.tar.gz"), work / "openssl")
    configure = [
        "./Configure", *OPENSSL_CONFIGURE,
        f"--with-jitter-include={jitter_dir}", f"--with-jitter-lib={jitter_dir}",
    ]  # fmt: skip
    _run(["perl", *configure], source, log, env=build_env)
    report("compile OpenSSL")
    _run(["make", f"-j{options.jobs}"], source, log, env=build_env)
    report("install")
    _run(["make", "install_sw", f"DESTDIR={staging}"], source, log)
    for static in (staging / LIBDIR).glob("*.a"):
        static.unlink()
    (staging / MODULES_DIR).mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "providers" / "fips.so", staging / MODULES_DIR / "fips.so")
    _fipsinstall(entry, work, CompiledStack(configure=" ".join(configure), inputs=inputs), log, report)


def _pair_into(
    entry: Path,
    work: Path,
    base: Path,
    options: StackOptions,
    inputs: dict[str, str],
    key: str,
    report: Progress,
) -> None:
    """The plain compiled stack (`base`) with fips.so built from the separately supplied release."""
    log = _log_file(key)
    shutil.copytree(base / "rootfs", entry / "rootfs", symlinks=True)
    report("paired FIPS provider")
    fips_so, pairing = build_paired_provider(options, work, log)
    shutil.copy2(fips_so, entry / "rootfs" / MODULES_DIR / "fips.so")
    configure = CompiledStack.model_validate_json((base / "compiled.json").read_text()).configure
    _fipsinstall(entry, work, CompiledStack(configure=configure, inputs=inputs, pairing=pairing), log, report)


def _fipsinstall(entry: Path, work: Path, record: CompiledStack, log: Path, report: Progress) -> None:
    """fipsinstall for the staged fips.so, then the record that marks the compiled entry complete."""
    staging = entry / "rootfs"
    report("fipsinstall")
    ssl_dir = staging / OPENSSLDIR.lstrip("/")
    ssl_dir.mkdir(parents=True, exist_ok=True)
    env = staged_environment(staging, scratch=work)
    _run(
        ["openssl", "fipsinstall", "-module", str(staging / MODULES_DIR / "fips.so"),
         "-out", str(ssl_dir / "fipsmodule.cnf"), "-provider_name", "fips", "-section_name", "fips_sect"],
        work, log, env={**env, "OPENSSL_CONF": "/dev/null"},
    )  # fmt: skip
    (entry / "compiled.json").write_text(record.model_dump_json(indent=2) + "\n")


def source_date_epoch(package: SourcePackage) -> int:
    """The date of the Debian source package's latest changelog entry: a timestamp fixed by the inputs."""
    with tarfile.open(package.file(".debian.tar.xz")) as packaging:
        member = packaging.extractfile("debian/changelog")
        if member is None:
            raise FipsforgeError(f"{package.directory}: no debian/changelog in the packaging")
        changelog = Changelog(member.read().decode(), max_blocks=1)
    return int(email.utils.parsedate_to_datetime(changelog.date).timestamp())


def build_jitterentropy(tree: Path, log: Path) -> Path:
    """Compile the bundled libjitterentropy into a static `libjitterentropy.a` beside `jitterentropy.h`."""
    objects = []
    for c_file in sorted((tree / "lib").glob("*.c")):
        obj = c_file.with_suffix(".o")
        _run(["cc", *JITTER_CFLAGS, "-I", str(tree), "-I", str(tree / "lib"), "-c", str(c_file), "-o", str(obj)],
             tree, log)  # fmt: skip
        objects.append(str(obj))
    _run(["ar", "rcs", "libjitterentropy.a", *objects], tree, log)
    return tree


def build_paired_provider(options: StackOptions, work: Path, log: Path) -> tuple[Path, FipsProviderPairing]:
    """Build fips.so from a separately supplied release, to pair with this stack's libcrypto."""
    assert options.fips_provider_source is not None and options.fips_provider_sha256 is not None
    source = extract(options.fips_provider_source, work / "paired")
    _run(["perl", "./Configure", "linux-x86_64", "enable-fips", "no-tests", "shared"], source, log)
    _run(["make", f"-j{options.jobs}", "build_modules"], source, log)
    fips_so = source / "providers" / "fips.so"
    if not fips_so.is_file():
        raise FipsforgeError(f"{options.fips_provider_source}: the release built no providers/fips.so")
    version = _release_version(source)
    return fips_so, FipsProviderPairing(
        source=options.fips_provider_source.name,
        sha256=options.fips_provider_sha256.lower(),
        provider_version=version,
    )


def _release_version(source: Path) -> str:
    version_file = source / "VERSION.dat"
    if version_file.is_file():
        fields = dict(line.split("=", 1) for line in version_file.read_text().splitlines() if "=" in line)
        return f"{fields.get('MAJOR')}.{fields.get('MINOR')}.{fields.get('PATCH')}"
    match = re.search(
        r'OPENSSL_VERSION_TEXT\s+"OpenSSL (\S+)', (source / "include/openssl/opensslv.h").read_text()
    )
    return match.group(1) if match else "unknown"


def staged_environment(staging: Path, scratch: Path) -> dict[str, str]:
    """Environment that runs the staged tree in place (relocated): config, modules and libraries."""
    return {
        "PATH": f"{staging / 'usr/bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LD_LIBRARY_PATH": str(staging / LIBDIR),
        "OPENSSL_MODULES": str(staging / MODULES_DIR),
        "OPENSSL_CONF": str(relocated_openssl_cnf(staging, scratch / "openssl.cnf")),
    }


def _openssl(staging: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(staging / "usr/bin/openssl"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise FipsforgeError(f"openssl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def describe(
    staging: Path,
    env: dict[str, str],
    record: CompiledStack,
    compiled_key: str,
    key: str,
    options: StackOptions,
) -> StackManifest:
    """Read the versions back from the built binaries themselves, so the manifest cannot drift."""
    version_text = _openssl(staging, env, "version", "-a")
    seeding = re.search(r"^Seeding source: (.*)$", version_text, re.MULTILINE)
    jent = re.search(r"JITTER \((\d+)\)", version_text)
    providers = _openssl(staging, env, "list", "-providers")
    fips_block = providers.split("  fips\n", 1)[1] if "  fips\n" in providers else ""
    name = re.search(r"name: (.*)", fips_block)
    version = re.search(r"version: (.*)", fips_block)
    mac = read_module_mac(staging / OPENSSLDIR.lstrip("/") / "fipsmodule.cnf")
    if mac != module_mac(staging / MODULES_DIR / "fips.so"):
        raise FipsforgeError("fipsmodule.cnf: module-mac does not match fips.so")
    jent_version = int(jent.group(1)) if jent else 0
    return StackManifest(
        openssl_version=version_text.split()[1],
        openssl_version_text=version_text.splitlines()[0],
        fips_provider_name=name.group(1).strip() if name else "unknown",
        fips_provider_version=version.group(1).strip() if version else "unknown",
        jitterentropy_version=decode_jent_version(jent_version),
        jent_version=jent_version,
        seeding_source=seeding.group(1).strip() if seeding else "unknown",
        configure=record.configure,
        debian_sources={
            OPENSSL_PACKAGE: options.openssl_version,
            JITTERENTROPY_PACKAGE: options.jitterentropy_version,
        },
        inputs=record.inputs,
        module_mac=mac,
        pairing=record.pairing,
        compile_key=compiled_key,
        cache_key=key,
    )


def decode_jent_version(value: int) -> str:
    """jent_version() packs MAJ*1000000 + MIN*10000 + PATCH*100."""
    return f"{value // 1000000}.{value // 10000 % 100}.{value // 100 % 100}"
