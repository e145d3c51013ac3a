"""CPython from Debian's python3.13 source package, without hashlib's built-in hash fallbacks.

Debian's CPython carries `_md5`, `_sha1`, `_sha2`, `_sha3` and `_blake2`: when OpenSSL refuses a
digest (MD5 under the FIPS provider), `hashlib` silently uses those instead, a non-validated path.
This build configures `--with-builtin-hashlib-hashes=` (empty), so none of those modules exists and
every `hashlib` constructor goes to OpenSSL. `hashlib.md5(usedforsecurity=False)` then asks OpenSSL for
MD5 with the `-fips` property query; under our config (default provider not loaded) no provider offers
it and the call raises `ValueError`, like `hashlib.md5()`. It never reaches a built-in implementation,
because there is none. The build links against the FIPS stack's own libcrypto and headers, and is
cached by input hash under `cache_root()/cpython/`. The built interpreter is checked to have none of
the fallback modules before the cache entry is written.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel

from fipsforge.apt import AptRoot
from fipsforge.errors import FipsforgeError
from fipsforge.image.build import Overlay
from fipsforge.image.sbom import Component
from fipsforge.image.source_build import (
    LIBDIR,
    SourceBuild,
    build_env,
    build_from_source,
    changelog_epoch,
)
from fipsforge.stack.build import StackBuild

PACKAGE = "python3.13"
VERSION = "3.13.5-2+deb13u5"
RECIPE_VERSION = 5
FALLBACK_MODULES = ("_md5", "_sha1", "_sha2", "_sha3", "_blake2")
CONFIGURE = [
    "--prefix=/usr", "--with-builtin-hashlib-hashes=", "--without-ensurepip", "--with-system-expat",
    "--disable-test-modules", "--with-lto=no", "--with-openssl-rpath=no",
]  # fmt: skip
# hashlib logs an error at import for each always-supported name it finds no code for, and leaves the
# name undefined (md5 and blake2 here). This edit, checked to apply, defines those names as constructors
# that raise ValueError instead: the API stays, the refusal is explicit, nothing is logged.
HASHLIB_ORIGINAL = """    except ValueError:
        import logging
        logging.exception('code for hash %s was not found.', __func_name)
"""
HASHLIB_REFUSING = """    except ValueError:
        # fipsforge: no built-in fallback exists; refuse on use, as OpenSSL's FIPS provider did.
        def __refused(*args, __name=__func_name, **kwargs):
            raise ValueError(f"unsupported hash type {__name}: not offered by the OpenSSL FIPS provider")
        globals()[__func_name] = __refused
        del __refused
"""
# Build-only parts of `make install`: headers, the static library, pkg-config, manuals, python-config.
DROP = [
    "usr/include",
    "usr/lib/pkgconfig",
    "usr/share/man",
    "usr/lib/python3.13/config-3.13-x86_64-linux-gnu",
    "usr/lib/libpython3.13.a",
    "usr/bin/python3.13-config",
    "usr/bin/python3-config",
]
BUILD_PATH = "/usr/src/fipsforge-cpython"


class CPythonManifest(BaseModel):
    version: str
    debian_version: str
    configure: str
    sources: dict[str, str]
    absent_modules: list[str]
    stack_key: str
    cache_key: str


class CPythonBuild(BaseModel):
    staging: Path
    manifest: CPythonManifest


def fallback_modules_present(python: Path, env: dict[str, str]) -> list[str]:
    """The built-in hash modules `python` can import (must be none)."""
    probe = f"import importlib.util as u\nfor m in {FALLBACK_MODULES!r}:\n    print(m) if u.find_spec(m) else None"
    done = subprocess.run(
        [str(python), "-I", "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise FipsforgeError(f"{python}: the built interpreter does not run: {done.stderr.strip()[-200:]}")
    return done.stdout.split()


def build_cpython(root: AptRoot, stack: StackBuild) -> CPythonBuild:
    """Build (or take from the cache) CPython against `stack`, with no built-in hash fallbacks."""
    entry = build_from_source(
        "cpython", PACKAGE, VERSION, root, stack.manifest.compile_key,
        {"recipe": RECIPE_VERSION, "configure": CONFIGURE, "drop": DROP, "hashlib": HASHLIB_REFUSING},
        lambda source, tree, staging_entry, work, key: _build_into(source, tree, staging_entry, work, stack, key),
    )  # fmt: skip
    return CPythonBuild(
        staging=entry / "rootfs",
        manifest=CPythonManifest.model_validate_json((entry / "manifest.json").read_text()),
    )


def _build_into(
    source: SourceBuild, tree: Path, entry: Path, work: Path, stack: StackBuild, key: str
) -> None:
    env = build_env()
    hashlib_py = tree / "Lib/hashlib.py"
    text = hashlib_py.read_text()
    if text.count(HASHLIB_ORIGINAL) != 1:
        raise FipsforgeError(f"{PACKAGE} {VERSION}: Lib/hashlib.py no longer has the expected fallback code")
    hashlib_py.write_text(text.replace(HASHLIB_ORIGINAL, HASHLIB_REFUSING))
    openssl = work / "openssl"
    openssl.mkdir()
    (openssl / "include").symlink_to(stack.staging / "usr/include")
    (openssl / "lib").symlink_to(stack.staging / LIBDIR)
    epoch = str(changelog_epoch(tree))
    make_env = {
        **env,
        "SOURCE_DATE_EPOCH": epoch,
        # The build's own import checks load the stack's libcrypto, with no config (no FIPS needed here).
        "LD_LIBRARY_PATH": str(stack.staging / LIBDIR),
        "OPENSSL_CONF": "/dev/null",
    }
    # Debug info (stripped later) must not carry the temporary path: the build ID is hashed over it.
    configure = [
        "./configure",
        *CONFIGURE,
        f"--with-openssl={openssl}",
        f"CFLAGS=-ffile-prefix-map={work}={BUILD_PATH}",
    ]
    source.run(configure, tree, make_env)
    source.make(tree, make_env)
    # sysconfig records the build directory (a random temporary path): fix it, so rebuilds are identical.
    for data in tree.glob("build/lib.*/_sysconfigdata_*.py"):
        data.write_text(data.read_text().replace(str(work), BUILD_PATH))
    staging = entry / "rootfs"
    source.run(["make", "install", f"DESTDIR={staging}"], tree, make_env)
    for rel in DROP:
        if (staging / rel).is_file():
            (staging / rel).unlink()
        shutil.rmtree(staging / rel, ignore_errors=True)
    source.strip_debug(staging, make_env)
    python = staging / "usr/bin/python3.13"
    present = fallback_modules_present(python, {**make_env, "PYTHONHOME": str(staging / "usr")})
    if present:
        raise FipsforgeError(f"{python}: built-in hash fallbacks still importable: {', '.join(present)}")
    version = subprocess.run(
        [str(python), "-I", "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True, env={**make_env, "PYTHONHOME": str(staging / "usr")},
    ).stdout.strip()  # fmt: skip
    manifest = CPythonManifest(
        version=version,
        debian_version=VERSION,
        configure=" ".join([*CONFIGURE, "--with-openssl=<fipsforge stack>"]),
        sources=source.sources,
        absent_modules=list(FALLBACK_MODULES),
        stack_key=stack.manifest.compile_key,
        cache_key=key,
    )
    (entry / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")


# Left out of the image, as Debian's own packaging leaves them out of libpython3.13-stdlib (they are in
# idle-python3.13, python3-tk, python3.13-venv): and bytecode for -O/-OO, which Debian never ships.
IMAGE_SKIP = [f"/usr/lib/python3.13/{name}" for name in ("idlelib", "tkinter", "turtledemo", "ensurepip")]
IMAGE_SKIP_SUFFIXES = [".opt-1.pyc", ".opt-2.pyc", ".a"]


def cpython_overlay(build: CPythonBuild) -> Overlay:
    m = build.manifest
    return Overlay(
        staging=build.staging,
        cache_key=f"cpython:{m.cache_key}",
        skip_trees=IMAGE_SKIP,
        skip_suffixes=IMAGE_SKIP_SUFFIXES,
        components=[
            Component(
                name="cpython",
                version=m.version,
                role="interpreter",
                description=f"CPython from Debian source {PACKAGE} {m.debian_version}, configured {m.configure}; "
                f"built-in hash modules absent: {', '.join(m.absent_modules)}",
                sources=m.sources,
                cpe=f"cpe:2.3:a:python:python:{m.version}:*:*:*:*:*:*:*",
            )
        ],
    )
