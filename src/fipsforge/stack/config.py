"""The hardened `openssl.cnf` that fipsforge installs, written so an auditor can read it.

It fails closed: a missing, unreadable or tampered `fipsmodule.cnf` (or `fips.so`) leaves libcrypto with
no algorithm at all, never with OpenSSL's default provider. Two OpenSSL 3.5 behaviours decide this
(crypto/provider_conf.c, crypto/provider_core.c, crypto/conf/conf_def.c):

- A failed `.include` is never an error in itself: the file is skipped, so `fips_sect` is simply missing.
  The providers module then stops at the provider whose section is missing.
- libcrypto loads the default provider as a *fallback* on the first fetch unless some provider activation
  was attempted first. That is why `base` comes before `fips` in `provider_sect`: its activation turns
  the fallback off, so whatever then goes wrong with `fips`, nothing but base (encoders and decoders, no
  algorithms) is active. With `fips` first and its section missing, no activation was ever attempted
  and every later fetch silently gets the default provider, whatever `config_diagnostics` says.

`config_diagnostics = 1` makes the configuration error fatal where OpenSSL checks it (the openssl CLI
and Node.js stop at start with the error); libraries that ignore the result of loading the
configuration (CPython) start, and then every digest, cipher and RAND_bytes call fails.
"""

from __future__ import annotations

import re
from pathlib import Path

from fipsforge.errors import FipsforgeError

OPENSSLDIR = "/usr/lib/ssl"
FIPSMODULE_CNF = f"{OPENSSLDIR}/fipsmodule.cnf"

HARDENED_OPENSSL_CNF = """\
# openssl.cnf written by fipsforge: every cryptographic operation goes through the FIPS provider, and
# any error in this configuration means no cryptography at all, never non-FIPS cryptography.
#
# What this file enforces, and why:
#   * config_diagnostics = 1: an error in this configuration is fatal where OpenSSL checks it (the
#     openssl CLI and Node.js refuse to start) instead of being ignored.
#   * The base provider is activated FIRST. It supplies encoders and decoders (reading keys and
#     certificates) and holds no cryptographic algorithms. Activating it turns off libcrypto's fallback
#     to the default provider, so if the FIPS provider below cannot be loaded (fipsmodule.cnf missing,
#     module-mac wrong, fips.so replaced), every algorithm fetch fails: nothing falls back.
#   * The FIPS provider ("fips") is loaded and activated. Its section, with the module's integrity MAC,
#     comes from fipsmodule.cnf, which `openssl fipsinstall` wrote for this exact fips.so. A missing
#     include is skipped silently by OpenSSL; the order above is what makes that fail closed.
#   * The default provider is NOT loaded, so no non-validated implementation can be picked even by
#     code that asks for one explicitly.
#   * default_properties = fips=yes: algorithm fetches only match implementations marked FIPS.
#   * seed = JITTER: libcrypto's own seed source is the CPU-jitter noise source, not the kernel.
#     The FIPS provider itself was built with enable-fips-jitter and seeds its DRBGs from jitter
#     inside the module boundary, whatever this setting says.
# What no file can refuse: OPENSSL_CONF or OPENSSL_MODULES set by whoever starts the process, or this
# file replaced (a volume mounted over {openssldir}). `fipsforge evidence` flags those in manifests.

config_diagnostics = 1
openssl_conf = openssl_init
# Node.js reads its own application section, nodejs_conf, unless started with --openssl-shared-config:
# point it at the same FIPS initialisation so Node is FIPS-only too.
nodejs_conf = openssl_init

# The FIPS module's own section (fips_sect), produced by `openssl fipsinstall`.
.include {fipsmodule_cnf}

[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
random = random_sect

[provider_sect]
# Order matters: base first (its activation disables the default-provider fallback), then fips.
base = base_sect
fips = fips_sect
# No "default = default_sect" here: the default provider stays unloaded on purpose.

[base_sect]
activate = 1

[algorithm_sect]
default_properties = fips=yes

[random_sect]
seed = JITTER
"""


def hardened_openssl_cnf(fipsmodule_cnf: str = FIPSMODULE_CNF) -> str:
    return HARDENED_OPENSSL_CNF.format(fipsmodule_cnf=fipsmodule_cnf, openssldir=OPENSSLDIR)


def read_module_mac(fipsmodule_cnf: Path) -> str:
    """The `module-mac` value that fipsinstall recorded, as lower-case hex without colons."""
    match = re.search(r"^\s*module-mac\s*=\s*([0-9A-Fa-f:]+)\s*$", fipsmodule_cnf.read_text(), re.MULTILINE)
    if match is None:
        raise FipsforgeError(f"{fipsmodule_cnf}: no module-mac line")
    return match.group(1).replace(":", "").lower()


def relocated_openssl_cnf(staging: Path, dest: Path) -> Path:
    """Write a copy of the hardened openssl.cnf whose include points into `staging`, for runs in place.

    OpenSSL resolves a relative `.include` against the working directory (or OPENSSL_CONF_INCLUDE), not
    against the including file, so a tree run from elsewhere needs its own config with an absolute path.
    """
    text = hardened_openssl_cnf(str(staging.resolve() / FIPSMODULE_CNF.lstrip("/")))
    dest.write_text(text)
    return dest
