"""OpenSSL through the image's own libcrypto.so.3, for images without the `openssl` CLI (slim app images).

fipsforge's probe program (`crypto_probe.c`, compiled on the host, bound into the sandbox) dlopen()s the
image's libcrypto, so what answers is exactly what the image's applications link.
"""

from __future__ import annotations

from pathlib import Path

from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox.runtimes import Context, Plan, RuntimeCheck
from fipsforge.sandbox.shims import SANDBOX_DIR, compiled
from fipsforge.stack.check import Expectation, Probe

GROUP = "OpenSSL: libcrypto.so.3 (no openssl CLI in the image)"
PROBE = f"{SANDBOX_DIR}/fipsforge-crypto-probe"
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
CHECKS = {
    # check -> (description, expectation, stdout that proves it)
    "providers": ("fips provider available (loading it runs its self-tests)", Expectation.SUCCEEDS,
                  r"^fips available: yes$"),
    "rand": ("RAND_bytes(32)", Expectation.SUCCEEDS, r"^RAND_bytes: [0-9a-f]{64}$"),
    "sha256": ("SHA-256 known answer", Expectation.SUCCEEDS, rf"^SHA256\(abc\) = {SHA256_ABC}$"),
    "aes-256-gcm": ("AES-256-GCM encrypt and decrypt", Expectation.SUCCEEDS, r"^AES-256-GCM: round trip ok$"),
    "ec-p256-keygen": ("EC P-256 key generation", Expectation.SUCCEEDS, r"^EC P-256 key generated: 256 bits$"),
    "md5": ("MD5 digest refused", Expectation.REFUSED, None),
    "chacha20": ("ChaCha20 encryption refused", Expectation.REFUSED, None),
    "x25519-keygen": ("X25519 key generation refused", Expectation.REFUSED, None),
}  # fmt: skip


def probe_binds() -> dict[Path, str]:
    """The probe program, compiled on first use, bound read-only at `PROBE`."""
    return {compiled("fipsforge.sandbox.runtimes", "crypto_probe", shared=False): PROBE}


def libcrypto_in(image: UnpackedImage) -> str | None:
    rootfs = image.rootfs.resolve()
    found = sorted(
        p for p in image.rootfs.glob("usr/lib*/**/libcrypto.so.3") if p.resolve().is_relative_to(rootfs)
    )
    return f"/{found[0].relative_to(image.rootfs)}" if found else None


def plan(image: UnpackedImage, context: Context) -> Plan | None:
    if context.openssl_cli is not None or (library := libcrypto_in(image)) is None:
        return None
    checks = [
        RuntimeCheck(probe=Probe(id=f"libcrypto-{check}", group=GROUP, description=f"{description} ({library})",
                                 commands=[[PROBE, check]], expect=expect, stdout_must_match=stdout))
        for check, (description, expect, stdout) in CHECKS.items()
    ]  # fmt: skip
    return Plan(checks=checks, binds=probe_binds())
