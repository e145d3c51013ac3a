"""libsodium from Debian's source package, its randomness drawn from the FIPS module's DRBG.

`sodium_init()` seeds libsodium's random generator from `getrandom(2)` or `/dev/urandom`, and aborts
the process when neither answers. Programs that call it at start (Debian's PHP does, in the sodium
extension's start-up) cannot run with the kernel's entropy cut off, even when they never use a sodium
function. This build makes libsodium's default `randombytes` implementation call OpenSSL's `RAND_bytes`,
i.e. the FIPS provider's DRBG seeded by jitterentropy, and abort (`sodium_misuse`) when the DRBG refuses:
fail closed, never the kernel. libsodium's own algorithms stay outside the FIPS boundary; the build
changes where their randomness comes from, not what they are.

The hook is libsodium's own: `randombytes.c` takes its default implementation from the macro
`RANDOMBYTES_DEFAULT_IMPLEMENTATION`. The edit, checked to apply, defines that implementation in the
same file. The built library is loaded once before the cache entry is written, to prove it reports the
new implementation and produces bytes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
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

PACKAGE = "libsodium"
VERSION = "1.0.18-1+deb13u1"
BINARY_PACKAGE = "libsodium23"
"""The Debian binary package whose library this build replaces."""
RECIPE_VERSION = 2
IMPLEMENTATION_NAME = "fipsforge-openssl-fips-drbg"
RANDOMBYTES_C = "src/libsodium/randombytes/randombytes.c"
DEFAULT_ORIGINAL = "#  define RANDOMBYTES_DEFAULT_IMPLEMENTATION &randombytes_sysrandom_implementation;\n"
# Placed before the default's definition, so the macro can name it; a refused DRBG aborts, as libsodium
# does when the kernel refuses (a caller of randombytes_buf has no way to see an error).
FIPS_DRBG_IMPLEMENTATION = f"""#include <limits.h>
#include <openssl/rand.h>

/* fipsforge: randomness from OpenSSL's RAND_bytes (the FIPS provider's DRBG), never the kernel */
static const char *fips_drbg_name(void) {{ return "{IMPLEMENTATION_NAME}"; }}

static void fips_drbg_buf(void * const buf, const size_t size)
{{
    unsigned char *out = (unsigned char *) buf;
    size_t left = size;
    while (left > 0U) {{
        const int chunk = left > (size_t) INT_MAX ? INT_MAX : (int) left;
        if (RAND_bytes(out, chunk) != 1) {{
            sodium_misuse();
        }}
        out += chunk;
        left -= (size_t) chunk;
    }}
}}

static uint32_t fips_drbg_random(void)
{{
    uint32_t value;
    fips_drbg_buf(&value, sizeof value);
    return value;
}}

static struct randombytes_implementation randombytes_fips_drbg_implementation = {{
    fips_drbg_name, fips_drbg_random, NULL, NULL, fips_drbg_buf, NULL
}};

#  define RANDOMBYTES_DEFAULT_IMPLEMENTATION &randombytes_fips_drbg_implementation;
"""
CONFIGURE = ["--prefix=/usr", f"--libdir=/{LIBDIR}", "--disable-static", "--disable-dependency-tracking"]
KEEP = f"{LIBDIR}/libsodium.so.23"
"""What the image needs of `make install`: the shared library (its soname link and the file)."""
BUILD_PATH = "/usr/src/fipsforge-libsodium"
# Loads the built library in a fresh process (the stack's libcrypto, no config: the check needs no FIPS).
CHECK = """import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.randombytes_implementation_name.restype = ctypes.c_char_p
buf = ctypes.create_string_buffer(32)
assert lib.sodium_init() == 0, "sodium_init failed"
lib.randombytes_buf(buf, 32)
print(lib.randombytes_implementation_name().decode(), len(set(buf.raw)) > 1)
"""


class LibsodiumManifest(BaseModel):
    version: str
    debian_version: str
    configure: str
    sources: dict[str, str]
    randombytes: str
    stack_key: str
    cache_key: str


class LibsodiumBuild(BaseModel):
    staging: Path
    manifest: LibsodiumManifest


def build_libsodium(root: AptRoot, stack: StackBuild) -> LibsodiumBuild:
    """Build (or take from the cache) libsodium against `stack`, its randomness from the FIPS DRBG."""
    entry = build_from_source(
        "libsodium", PACKAGE, VERSION, root, stack.manifest.compile_key,
        {"recipe": RECIPE_VERSION, "configure": CONFIGURE, "implementation": FIPS_DRBG_IMPLEMENTATION},
        lambda source, tree, staging_entry, work, key: _build_into(source, tree, staging_entry, work, stack, key),
    )  # fmt: skip
    return LibsodiumBuild(
        staging=entry / "rootfs",
        manifest=LibsodiumManifest.model_validate_json((entry / "manifest.json").read_text()),
    )


def _build_into(
    source: SourceBuild, tree: Path, entry: Path, work: Path, stack: StackBuild, key: str
) -> None:
    env = build_env()
    randombytes = tree / RANDOMBYTES_C
    text = randombytes.read_text()
    if text.count(DEFAULT_ORIGINAL) != 1:
        raise FipsforgeError(f"{PACKAGE} {VERSION}: {RANDOMBYTES_C} no longer has the expected default")
    randombytes.write_text(text.replace(DEFAULT_ORIGINAL, FIPS_DRBG_IMPLEMENTATION))
    make_env = {**env, "SOURCE_DATE_EPOCH": str(changelog_epoch(tree))}
    libdir = stack.staging / LIBDIR
    # Debian's hardening flags, as its own package is built; the prefix map goes last so that debug info
    # (stripped later) never carries the temporary path: the build ID is hashed over it.
    flags = {name: source.build_flag(name, tree, make_env) for name in ("CFLAGS", "CPPFLAGS", "LDFLAGS")}
    configure = [
        "./configure", *CONFIGURE,
        f"CPPFLAGS={flags['CPPFLAGS']} -I{stack.staging / 'usr/include'}",
        f"CFLAGS={flags['CFLAGS']} -ffile-prefix-map={work}={BUILD_PATH}",
        f"LDFLAGS={flags['LDFLAGS']} -L{libdir}", "LIBS=-lcrypto",
    ]  # fmt: skip
    # Debian's orig tarball is the git tree, without a configure script (its packaging runs dh_autoreconf).
    source.run(["autoreconf", "-fi"], tree, make_env)
    source.run(configure, tree, make_env)
    source.make(tree, make_env)
    installed = work / "installed"
    source.run(["make", "install", f"DESTDIR={installed}"], tree, make_env)
    staging = entry / "rootfs"
    (staging / LIBDIR).mkdir(parents=True)
    for path in sorted((installed / LIBDIR).glob("libsodium.so.23*")):
        shutil.copy2(path, staging / LIBDIR / path.name, follow_symlinks=False)
    source.strip_debug(staging, make_env)
    library = staging / KEEP
    if not library.exists():
        raise FipsforgeError(f"{PACKAGE} {VERSION}: make install wrote no {KEEP}")
    done = subprocess.run(
        [sys.executable, "-I", "-c", CHECK, str(library)], capture_output=True, text=True,
        env={**make_env, "LD_LIBRARY_PATH": str(libdir), "OPENSSL_CONF": "/dev/null"}, check=False,
    )  # fmt: skip
    if done.stdout.split() != [IMPLEMENTATION_NAME, "True"]:
        raise FipsforgeError(
            f"{library}: the built library does not draw from the DRBG: {(done.stdout + done.stderr).strip()[-200:]}"
        )
    manifest = LibsodiumManifest(
        version=VERSION.split("-")[0],
        debian_version=VERSION,
        configure=" ".join([*CONFIGURE, "LIBS=-lcrypto <fipsforge stack>"]),
        sources=source.sources,
        randombytes=IMPLEMENTATION_NAME,
        stack_key=stack.manifest.compile_key,
        cache_key=key,
    )
    (entry / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")


def libsodium_overlay(build: LibsodiumBuild) -> Overlay:
    m = build.manifest
    return Overlay(
        staging=build.staging,
        cache_key=f"libsodium:{m.cache_key}",
        components=[
            Component(
                name="libsodium",
                version=m.version,
                role="library",
                description=f"libsodium from Debian source {PACKAGE} {m.debian_version}, configured {m.configure}; "
                f"randombytes implementation {m.randombytes} (OpenSSL RAND_bytes, the FIPS provider's DRBG)",
                sources=m.sources,
                cpe=f"cpe:2.3:a:libsodium_project:libsodium:{m.version}:*:*:*:*:*:*:*",
            )
        ],
    )
