"""Go binaries: Go carries its own crypto (crypto/*), never the image's OpenSSL.

Found by the `.go.buildinfo` section of ELF files on the image's PATH. The binary is not run (fipsforge
cannot know its arguments): `crypto/fips140.Enabled()` is derived the way the Go runtime derives it, from
the `fips140` setting in the binary's DefaultGODEBUG (set by GOFIPS140 at build time), overridden by
GODEBUG in the image's environment (https://go.dev/doc/security/fips140).

With the kernel's entropy cut off: Go's crypto/rand reads getrandom(2) and crashes the program when it
fails; the Go Cryptographic Module v1.0.0 seeds its DRBG from the kernel too. Only module v1.26.0 and
later carry an SP 800-90B CPU-jitter entropy source of their own.
"""

from __future__ import annotations

import re
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox.runtimes import Context, Finding, Plan

GROUP = "Go binaries: crypto/fips140"
MAGIC = b"\xff Go buildinf:"
INLINE_STRINGS = 0x2
"""Build info flag of Go 1.18+: version and module info follow the header as length-prefixed strings."""


class BuildInfo:
    def __init__(self, version: str, settings: dict[str, str]) -> None:
        self.version = version
        self.settings = settings

    @property
    def default_godebug(self) -> dict[str, str]:
        return godebug(self.settings.get("DefaultGODEBUG", ""))


def godebug(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split(",") if "=" in item)


def _varint_string(data: bytes, offset: int) -> tuple[bytes, int]:
    length = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return data[offset : offset + length], offset + length


def build_info(path: Path) -> BuildInfo | None:
    """The Go version and `build` settings of a Go ELF binary; None for anything else."""
    try:
        with path.open("rb") as stream:
            if stream.read(4) != b"\x7fELF":
                return None
            stream.seek(0)
            section = ELFFile(stream).get_section_by_name(".go.buildinfo")
            data = section.data() if section is not None else b""
    except (ELFError, OSError, ValueError):
        return None
    if not data.startswith(MAGIC):
        return None
    if not data[15] & INLINE_STRINGS:
        return BuildInfo("go1.17 or older", {})
    version, offset = _varint_string(data, 32)
    modinfo, _ = _varint_string(data, offset)
    settings = dict(
        line.split("=", 1)
        for line in (row.removeprefix("build\t") for row in modinfo.decode(errors="replace").splitlines())
        if "=" in line and "\t" not in line
    )
    return BuildInfo(version.decode(errors="replace"), settings)


def _go_minor(version: str) -> int:
    found = re.match(r"go1\.(\d+)", version)
    return int(found.group(1)) if found else 0


def judge(info: BuildInfo, image_godebug: str) -> tuple[bool, bool, str]:
    """(FIPS mode on, seeded without the kernel, the plain account of the binary's crypto) from its build info."""
    setting = {**info.default_godebug, **godebug(image_godebug)}.get("fips140", "off")
    module = info.settings.get("GOFIPS140", "off")
    facts = f"{info.version}; GOFIPS140={module}; fips140={setting}"
    if _go_minor(info.version) < 24:
        boring = "boringcrypto" in info.settings.get("GOEXPERIMENT", "")
        own = "BoringCrypto (GOEXPERIMENT=boringcrypto)" if boring else "Go's own crypto"
        return False, False, f"{facts}: predates crypto/fips140 (Go 1.24); {own}; crypto/rand needs getrandom"
    if setting not in ("on", "only"):
        return (
            False,
            False,
            (
                f"{facts}: crypto/fips140.Enabled() is false; Go's own crypto answers outside any FIPS module; "
                "with the kernel's entropy cut off crypto/rand crashes the program"
            ),
        )
    module_minor = re.match(r"v1\.(\d+)", module)
    if module_minor is None or int(module_minor.group(1)) < 26:
        return (
            True,
            False,
            (
                f"{facts}: crypto/fips140.Enabled() is true, but the Go Cryptographic Module v1.0.0 seeds its DRBG "
                "from the kernel (getrandom): it cannot run with the kernel's entropy cut off"
            ),
        )
    return (
        True,
        True,
        f"{facts}: crypto/fips140.Enabled() is true; the module's CPU-jitter source seeds its DRBG",
    )


def plan(image: UnpackedImage, context: Context) -> Plan | None:
    rootfs = image.rootfs.resolve()
    candidates = {
        path
        for directory in image.config.path_dirs
        if (image.rootfs / directory.lstrip("/")).is_dir()
        for path in (image.rootfs / directory.lstrip("/")).iterdir()
        if path.is_file() and path.resolve().is_relative_to(rootfs)
    }
    findings = []
    for path in sorted(candidates):
        info = build_info(path)
        if info is None:
            continue
        name = f"/{path.relative_to(image.rootfs)}"
        fips_mode, independent, detail = judge(info, image.config.env.get("GODEBUG", ""))
        findings.append(Finding(
            id=f"go-fips140-{path.name}", group=GROUP, outcome="passed" if independent else "failed",
            description=f"{name}: Go crypto in FIPS mode, seeded without the kernel (build info, GODEBUG)",
            detail=detail, non_validated=None if fips_mode else f"Go crypto/* ({name})",
        ))  # fmt: skip
    return Plan(findings=findings) if findings else None
