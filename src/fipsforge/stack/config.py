"""The hardened `openssl.cnf` that fipsforge installs, written so an auditor can read it."""

from __future__ import annotations

import re
from pathlib import Path

from fipsforge.errors import FipsforgeError

OPENSSLDIR = "/usr/lib/ssl"

HARDENED_OPENSSL_CNF = """\
# openssl.cnf written by fipsforge: every cryptographic operation goes through the FIPS provider.
#
# What this file enforces, and why:
#   * The FIPS provider ("fips") is loaded and activated. Its section, with the module's integrity MAC,
#     comes from fipsmodule.cnf, which `openssl fipsinstall` wrote for this exact fips.so.
#   * The base provider is activated: it supplies encoders and decoders (reading keys and
#     certificates) and holds no cryptographic algorithms.
#   * The default provider is NOT loaded, so no non-validated implementation can be picked even by
#     code that asks for one explicitly.
#   * default_properties = fips=yes: algorithm fetches only match implementations marked FIPS.
#   * seed = JITTER: libcrypto's own seed source is the CPU-jitter noise source, not the kernel.
#     The FIPS provider itself was built with enable-fips-jitter and seeds its DRBGs from jitter
#     inside the module boundary, whatever this setting says.

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
fips = fips_sect
base = base_sect
# No "default = default_sect" here: the default provider stays unloaded on purpose.

[base_sect]
activate = 1

[algorithm_sect]
default_properties = fips=yes

[random_sect]
seed = JITTER
"""


def hardened_openssl_cnf(fipsmodule_cnf: str = f"{OPENSSLDIR}/fipsmodule.cnf") -> str:
    return HARDENED_OPENSSL_CNF.format(fipsmodule_cnf=fipsmodule_cnf)


def read_module_mac(fipsmodule_cnf: Path) -> str:
    """The `module-mac` value that fipsinstall recorded, as lower-case hex without colons."""
    match = re.search(r"^\s*module-mac\s*=\s*([0-9A-Fa-f:]+)\s*$", fipsmodule_cnf.read_text(), re.MULTILINE)
    if match is None:
        raise FipsforgeError(f"{fipsmodule_cnf}: no module-mac line")
    return match.group(1).replace(":", "").lower()


def relocated_openssl_cnf(staging: Path, dest: Path) -> Path:
    """Write a copy of the staged openssl.cnf whose include points into `staging`, for runs in place."""
    text = hardened_openssl_cnf(str(staging / OPENSSLDIR.lstrip("/") / "fipsmodule.cnf"))
    dest.write_text(text)
    return dest
