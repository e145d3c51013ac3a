"""curl, a TLS client: the image's curl against an HTTPS server on loopback, in the same sandbox.

Each case restricts what curl offers, so a refusal is the client's own library refusing (curl exits 35,
"SSL connect error", or 59, "couldn't use the specified cipher/curve").
"""

from __future__ import annotations

from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox.runtimes import Context, Plan, RuntimeCheck
from fipsforge.sandbox.runtimes.tls import BODY, CERT, URL, served, tls_binds
from fipsforge.stack.check import Expectation, Probe

GROUP = "curl: HTTPS client on loopback"
AES_GCM = rf"SSL connection using TLSv1\.3 / TLS_AES_(128|256)_GCM_SHA(256|384)[\s\S]*^{BODY}$"
"""curl -v (its stderr sent to stdout) names the negotiated version and suite; the body follows."""
REFUSAL = r"curl: \((35|59)\)"
CASES = {
    # id -> (description, curl options, expectation)
    "curl-tls13-aes-gcm": ("TLS 1.3 with AES-GCM suites succeeds",
                           ["--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
                            "-v", "--stderr", "-"],
                           Expectation.SUCCEEDS),
    "curl-chacha20-refused": ("a client offering only ChaCha20-Poly1305 (TLS 1.3) is refused",
                              ["--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"],
                              Expectation.REFUSED),
    "curl-x25519-refused": ("a client offering only the X25519 group is refused", ["--curves", "X25519"],
                            Expectation.REFUSED),
}  # fmt: skip


def plan(image: UnpackedImage, context: Context) -> Plan | None:
    curl = context.find(("curl",))
    if curl is None:
        return None
    checks = [
        RuntimeCheck(probe=Probe(
            id=case_id, group=GROUP, description=description, expect=expect,
            commands=[served([curl, "-sS", "--cacert", CERT, *options, URL])],
            stdout_must_match=AES_GCM if expect is Expectation.SUCCEEDS else rf"^{BODY}$",
            refusal_must_match=REFUSAL,
        ))
        for case_id, (description, options, expect) in CASES.items()
    ]  # fmt: skip
    return Plan(checks=checks, binds=tls_binds(context.scratch))
