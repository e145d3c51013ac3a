"""Java: the JDK's own providers (SUN, SunJCE, ...) answer unless java.security puts a FIPS provider first.

The provider order is read from the runtime's `conf/security/java.security`. `getInstance("MD5")` falls
through the list to the first provider offering MD5, so it succeeds whenever one listed offers it (the
JDK's SUN provider, non-FIPS Bouncy Castle); this is read from the file, the JVM is not run.
"""

from __future__ import annotations

import re
from pathlib import Path

from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox.runtimes import Context, Finding, Plan

GROUP = "Java: security providers"
PROVIDER = re.compile(r"^security\.provider\.(\d+)\s*=\s*(.+?)\s*$", re.MULTILINE)
MD5_PROVIDERS = ("SUN", "sun.security.provider.Sun", "org.bouncycastle.jce.provider.BouncyCastleProvider")
FIPS_PROVIDER = re.compile(r"FIPS|fips", re.IGNORECASE)


def provider_order(java_security: str) -> list[str]:
    """`security.provider.N` entries in N order (continuation lines are not used for these keys)."""
    return [name for _, name in sorted((int(n), name) for n, name in PROVIDER.findall(java_security))]


def _java_security(image: UnpackedImage, java: str) -> Path | None:
    rootfs = image.rootfs.resolve()
    binary = (image.rootfs / java.lstrip("/")).resolve()
    if not binary.is_relative_to(rootfs):
        return None
    candidate = binary.parent.parent / "conf/security/java.security"
    return candidate if candidate.is_file() and candidate.resolve().is_relative_to(rootfs) else None


def plan(image: UnpackedImage, context: Context) -> Plan | None:
    java = context.find(("java",))
    if java is None:
        return None
    config = _java_security(image, java)
    order = provider_order(config.read_text(errors="replace")) if config else []
    first_fips = bool(order) and FIPS_PROVIDER.search(order[0]) is not None
    listing = ", ".join(f"{n}. {name}" for n, name in enumerate(order, 1)) or "no security.provider entries"
    where = f"/{config.relative_to(image.rootfs)}" if config else "no conf/security/java.security found"
    finding = Finding(
        id="java-provider-order", group=GROUP, outcome="passed" if first_fips else "failed",
        description="java.security names a FIPS provider first",
        detail=f"{where}: {listing}", non_validated=None if first_fips else "the JDK's own providers (java.security)",
    )  # fmt: skip
    offering = [name for name in order if name.split()[0] in MD5_PROVIDERS]
    md5 = Finding(
        id="java-md5-refused", group=GROUP, outcome="failed" if offering or not order else "passed",
        description='MessageDigest.getInstance("MD5") fails (no listed provider offers MD5)',
        detail=f"offered by {', '.join(offering)}: getInstance(\"MD5\") succeeds" if offering
        else "no listed provider offers MD5" if order else f"{where}: provider order unknown",
        non_validated='MessageDigest.getInstance("MD5")' if offering else None,
    )  # fmt: skip
    return Plan(findings=[finding, md5])
