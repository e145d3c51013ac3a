"""Java: the JDK's own providers (SUN, SunJCE, ...) answer unless java.security puts a FIPS provider first.

The provider order of the runtime's `conf/security/java.security` is reported from the file (a finding).
The JVM is then run in the sandbox on fipsforge's probe class (`java_class.py`, bound read-only), in both
entropy modes: it must report that same order (a `JAVA_TOOL_OPTIONS` override or a vendor's runtime
switch would differ), `MessageDigest.getInstance("MD5")` must be refused (it falls through the list to the
first provider offering MD5: SUN, non-FIPS Bouncy Castle) and SHA-256 must answer (the probe's control).
"""

from __future__ import annotations

import re
from pathlib import Path

from fipsforge.image.rootfs import resolve_in_root
from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox.runtimes import Context, Finding, Plan, RuntimeCheck
from fipsforge.sandbox.runtimes.java_class import CLASS_NAME, probe_class
from fipsforge.sandbox.runtimes.libcrypto import SHA256_ABC
from fipsforge.sandbox.shims import SANDBOX_DIR
from fipsforge.stack.check import Expectation, Probe

GROUP = "Java: security providers"
PROVIDER = re.compile(r"^security\.provider\.(\d+)\s*=\s*(.+?)\s*$", re.MULTILINE)
FIPS_PROVIDER = re.compile(r"FIPS|fips", re.IGNORECASE)
CLASS_DIR = f"{SANDBOX_DIR}/java"
JVM_FLAGS = [
    "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx64m", "-XX:+UseSerialGC", "-XX:-UsePerfData",
    "-XX:-StackTraceInThrowable",  # an uncaught exception is one line on stderr, the refusal's reason
]  # fmt: skip
"""Small and quiet in a sandbox: class-data sharing if there is an archive, the C1 compiler only, one GC
thread, no hsperfdata file in /tmp."""
MD5 = 'MessageDigest.getInstance("MD5")'


def provider_order(java_security: str) -> list[str]:
    """`security.provider.N` entries in N order (continuation lines are not used for these keys)."""
    return [name for _, name in sorted((int(n), name) for n, name in PROVIDER.findall(java_security))]


def reported_order(order: list[str]) -> str:
    """A pattern for the probe's first line, `Arrays.toString(Security.getProviders())`, with providers in
    `order`: an entry naming a provider by name ("SunPKCS11 <config>") must be that provider; one naming a
    class (`sun.security.provider.Sun`) may carry any name."""
    names = [entry.split()[0] for entry in order]
    parts = [("[^,\\]]+" if "." in name else re.escape(name)) + " version [^,\\]]*" for name in names]
    return rf"(?m)^\[{', '.join(parts)}\]$"


def find_java(image: UnpackedImage, context: Context) -> str | None:
    """`java` on the image's PATH, else a JVM's own `bin/java` (images built without maintainer scripts
    have no update-alternatives link in /usr/bin)."""
    if (found := context.find(("java",))) is not None:
        return found
    rootfs = image.rootfs.resolve()
    # a JVM directory that is a link (Debian's java-1.21.0-openjdk-amd64 -> java-21-openjdk-amd64) is skipped
    jvms = sorted(
        p
        for p in image.rootfs.glob("usr/lib/jvm/*/bin/java")
        if not p.parent.parent.is_symlink() and p.resolve().is_relative_to(rootfs)
    )
    return f"/{jvms[0].relative_to(image.rootfs)}" if jvms else None


def _java_security(image: UnpackedImage, java: str) -> tuple[str, Path] | None:
    """The image path of the JVM's `conf/security/java.security` and its file on disk, symlinks followed
    inside the image (Debian's points into /etc/java-N-openjdk)."""
    binary = resolve_in_root(image.rootfs, java, follow_last=True)
    if not binary.is_relative_to(image.rootfs):
        return None
    image_path = f"/{(binary.parent.parent / 'conf/security/java.security').relative_to(image.rootfs)}"
    candidate = resolve_in_root(image.rootfs, image_path, follow_last=True)
    return (image_path, candidate) if candidate.is_file() else None


def probe_binds(scratch: Path) -> dict[Path, str]:
    """The probe class, written once per scratch directory, bound read-only at `CLASS_DIR`."""
    directory = scratch / "java"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{CLASS_NAME}.class").write_bytes(probe_class())
    return {directory: CLASS_DIR}


def plan(image: UnpackedImage, context: Context) -> Plan | None:
    java = find_java(image, context)
    if java is None:
        return None
    config = _java_security(image, java)
    order = provider_order(config[1].read_text(errors="replace")) if config else []
    first_fips = bool(order) and FIPS_PROVIDER.search(order[0]) is not None
    listing = ", ".join(f"{n}. {name}" for n, name in enumerate(order, 1)) or "no security.provider entries"
    where = config[0] if config else "no conf/security/java.security found"
    finding = Finding(
        id="java-provider-order", group=GROUP, outcome="passed" if first_fips else "failed",
        description="java.security names a FIPS provider first",
        detail=f"{where}: {listing}", non_validated=None if first_fips else "the JDK's own providers (java.security)",
    )  # fmt: skip

    def run(probe_id: str, algorithm: str, description: str, **fields: object) -> Probe:
        command = [java, *JVM_FLAGS, "-cp", CLASS_DIR, CLASS_NAME, algorithm]
        return Probe.model_validate(
            {"id": probe_id, "group": GROUP, "description": description, "commands": [command], **fields}
        )

    checks = [
        RuntimeCheck(probe=run("java-md5", "MD5", f"{MD5} refused", expect=Expectation.REFUSED,
                               refusal_must_match=r"NoSuchAlgorithmException: MD5 MessageDigest not available"),
                     non_validated=MD5),
        RuntimeCheck(probe=run("java-sha256", "SHA-256", 'MessageDigest.getInstance("SHA-256") known answer',
                               expect=Expectation.SUCCEEDS, stdout_must_match=rf"^\S+ {SHA256_ABC}$")),
    ]  # fmt: skip
    if order:
        checks.append(RuntimeCheck(probe=run(
            "java-provider-order-jvm", "SHA-256", f"the JVM reports java.security's provider order ({len(order)})",
            expect=Expectation.SUCCEEDS, stdout_must_match=reported_order(order),
        )))  # fmt: skip
    return Plan(checks=checks, findings=[finding], binds=probe_binds(context.scratch))
