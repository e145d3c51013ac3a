"""PHP: `openssl_*` and TLS streams go through OpenSSL; `md5()`, `hash()`, `random_bytes()`, sodium and the
like are PHP's own code (ext/standard, ext/hash, ext/random, libsodium) and never touch the FIPS module.

Every such function that still answers is a non-validated path: its case fails and names it. A hardened
php.ini (`disable_functions`) makes them undefined, which is what passes.
"""

from __future__ import annotations

import re

from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox.runtimes import Context, Plan, RuntimeCheck
from fipsforge.sandbox.runtimes.libcrypto import SHA256_ABC
from fipsforge.sandbox.runtimes.tls import CERT, PORT, served, tls_binds
from fipsforge.stack.check import Expectation, Probe

THROUGH_OPENSSL = "PHP: through OpenSSL (openssl_*, TLS streams)"
NON_VALIDATED = "PHP: non-validated primitives (PHP's own crypto) must be refused"
DISABLED = r"Call to undefined (function|method)|Class \"[^\"]+\" not found|disabled"
NON_VALIDATED_CODE = {
    # the function, as the report names it -> code calling it
    "md5()": 'echo md5("abc");',
    "sha1()": 'echo sha1("abc");',
    "hash()": 'echo hash("sha256", "abc");',
    "hash_hmac()": 'echo hash_hmac("sha256", "abc", "key");',
    "hash_init()": 'echo hash_final(hash_init("sha256"));',
    "random_bytes()": "echo bin2hex(random_bytes(16));",
    "random_int()": "echo random_int(0, 1 << 30);",
    "Random\\Randomizer::getBytes()": "echo bin2hex((new Random\\Randomizer())->getBytes(16));",
    "password_hash()": 'echo password_hash("abc", PASSWORD_DEFAULT);',
    "sodium_crypto_generichash()": 'echo bin2hex(sodium_crypto_generichash("abc"));',
    "sodium_crypto_box_keypair()": "echo strlen(sodium_crypto_box_keypair());",
}
OPENSSL_ERROR = 'if ($r === false) { while ($e = openssl_error_string()) fwrite(STDERR, "$e\\n"); exit(1); }'
TLS_CLIENT = (
    f'$c = stream_context_create(["ssl" => ["cafile" => "{CERT}", "peer_name" => "localhost",'
    ' "crypto_method" => STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT]]);'
    f' $s = stream_socket_client("tls://127.0.0.1:{PORT}", $errno, $error, 20, STREAM_CLIENT_CONNECT, $c);'
    ' if (!$s) { fwrite(STDERR, "$error\\n"); exit(1); }'
    ' fwrite($s, "GET / HTTP/1.0\\r\\n\\r\\n"); $m = stream_get_meta_data($s)["crypto"];'
    ' echo $m["protocol"], " ", $m["cipher_name"], "\\n", stream_get_contents($s);'
)


def probe_id(function: str) -> str:
    return "php-" + re.sub(r"[^a-z0-9]+", "-", function.lower()).strip("-")


def plan(image: UnpackedImage, context: Context) -> Plan | None:
    php = context.find(("php", *(f"php8.{minor}" for minor in range(9, 0, -1))))
    if php is None:
        return None

    def script(probe_id: str, group: str, description: str, code: str, **fields: object) -> Probe:
        return Probe.model_validate(
            {"id": probe_id, "group": group, "description": description, "commands": [[php, "-d", "display_errors=stderr", "-r", code]], **fields}
        )  # fmt: skip

    succeeds = Expectation.SUCCEEDS
    checks = [
        RuntimeCheck(probe=script("php-openssl-digest", THROUGH_OPENSSL, "openssl_digest() SHA-256 known answer",
                                  'echo openssl_digest("abc", "sha256"), "\\n";', expect=succeeds,
                                  stdout_must_match=rf"^{SHA256_ABC}$")),
        RuntimeCheck(probe=script("php-openssl-random", THROUGH_OPENSSL, "openssl_random_pseudo_bytes(32)",
                                  "echo strlen(openssl_random_pseudo_bytes(32)), \"\\n\";", expect=succeeds,
                                  stdout_must_match=r"^32$")),
        RuntimeCheck(probe=script("php-openssl-md5-refused", THROUGH_OPENSSL, "openssl_digest() MD5 refused",
                                  f'$r = openssl_digest("abc", "md5"); {OPENSSL_ERROR} echo $r;',
                                  expect=Expectation.REFUSED, refusal_must_match=r"unsupported|disabled")),
        RuntimeCheck(probe=Probe(
            id="php-tls-stream", group=THROUGH_OPENSSL,
            description="a tls:// stream (TLS 1.3) to an HTTPS server on loopback: AES-GCM negotiated",
            commands=[served([php, "-r", TLS_CLIENT])], expect=succeeds,
            stdout_must_match=r"^TLSv1\.3 TLS_AES_(128|256)_GCM_SHA(256|384)$[\s\S]*fipsforge hello",
        )),
    ]  # fmt: skip
    checks += [
        RuntimeCheck(
            probe=script(probe_id(function), NON_VALIDATED, f"{function} refused (PHP's own implementation)",
                         code, expect=Expectation.REFUSED, refusal_must_match=DISABLED),
            non_validated=function,
        )
        for function, code in NON_VALIDATED_CODE.items()
    ]  # fmt: skip
    return Plan(checks=checks, binds=tls_binds(context.scratch))
