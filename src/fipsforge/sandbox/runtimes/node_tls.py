"""Node.js TLS: an HTTPS server and client in one node process on loopback, through the image's OpenSSL.

The client restricts what it offers, so the refusals are Node's OpenSSL refusing ChaCha20-Poly1305 and
X25519, not a server choosing something else.

The server listens on a port without naming a host, and the client connects to an IP address: naming
a host makes `net` load `dns`, which starts c-ares, which asks glibc's arc4random for its query-ID seed,
and glibc aborts the process when the kernel refuses. That DNS path is not cryptographic and lies outside
the FIPS boundary; it is a kernel-dependent path of its own (`node-kernel-dns`), shown to work with the
kernel and to fail without it, like Python's os.urandom.
"""

from __future__ import annotations

from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox.probes import KERNEL_PATHS
from fipsforge.sandbox.runtimes import Context, Plan, RuntimeCheck
from fipsforge.sandbox.runtimes.tls import BODY, CERT, KEY, tls_binds
from fipsforge.stack.check import Expectation, Probe

GROUP = "Node.js: HTTPS server and client on loopback"
HTTPS = f"""
const fs = require("fs"), https = require("https");
const client = JSON.parse(process.argv[1]);
const server = https.createServer({{key: fs.readFileSync("{KEY}"), cert: fs.readFileSync("{CERT}")}},
  (request, response) => response.end("{BODY}\\n"));
const refused = (error) => {{ console.error(`refused: ${{error.code || ""}} ${{error.message}}`); process.exit(1); }};
server.listen(0, () => {{
  const options = {{host: "127.0.0.1", port: server.address().port, servername: "localhost",
    ca: fs.readFileSync("{CERT}"), ...client}};
  try {{
    https.get(options, (response) => {{
      const tls = response.socket;
      console.log(tls.getProtocol(), tls.getCipher().standardName);
      response.pipe(process.stdout);
      response.on("end", () => server.close());
    }}).on("error", refused);
  }} catch (error) {{ refused(error); }}
}});
"""
CASES = {
    # id -> (description, client options (JSON), expectation)
    "node-https-tls13": ("TLS 1.3 HTTPS request: AES-GCM negotiated", '{"minVersion": "TLSv1.3"}',
                         Expectation.SUCCEEDS),
    "node-https-chacha20-refused": ("a TLS 1.2 client offering only ChaCha20-Poly1305 is refused",
                                    '{"maxVersion": "TLSv1.2", "ciphers": "ECDHE-ECDSA-CHACHA20-POLY1305"}',
                                    Expectation.REFUSED),
    "node-https-x25519-refused": ("a client offering only the X25519 group is refused", '{"ecdhCurve": "X25519"}',
                                  Expectation.REFUSED),
}  # fmt: skip


def plan(image: UnpackedImage, context: Context) -> Plan | None:
    node = context.find(("node", "nodejs"))
    if node is None:
        return None
    checks = [
        RuntimeCheck(probe=Probe(
            id=case_id, group=GROUP, description=description, commands=[[node, "-e", HTTPS, options]],
            expect=expect, stdout_must_match=rf"^TLSv1\.[23] TLS_AES_(128|256)_GCM_SHA(256|384)\n{BODY}$"
            if expect is Expectation.SUCCEEDS else rf"^{BODY}$",
            refusal_must_match=r"^refused: ",
        ))
        for case_id, (description, options, expect) in CASES.items()
    ]  # fmt: skip
    dns = Probe(
        id="node-kernel-dns", group=KERNEL_PATHS,
        description="Node.js dns (c-ares seeds its DNS query IDs from glibc's arc4random: kernel randomness, "
        "outside the FIPS boundary)",
        commands=[[node, "-e", 'require("dns").lookup("127.0.0.1", (e, a) => console.log(e ? e.code : a))']],
        expect=Expectation.SUCCEEDS, stdout_must_match=r"^127\.0\.0\.1$",
        refusal_must_match=r"cannot get entropy for arc4random",
    )  # fmt: skip
    return Plan(checks=[*checks, RuntimeCheck(probe=dns)], binds=tls_binds(context.scratch))
