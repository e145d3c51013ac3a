"""The FIPS module's integrity MAC, recomputed independently of OpenSSL."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

# OpenSSL's default FIPS HMAC key (Configure's --fips-key default, FIPS_KEY_STRING).
DEFAULT_FIPS_KEY = bytes.fromhex("f4556650ac31d35461610bac4ed81b1a181b2d8a43ea2854cbae22ca74560813")


def module_mac(module: Path, key: bytes = DEFAULT_FIPS_KEY) -> str:
    """HMAC-SHA256 over the whole fips.so file, as fipsinstall computes it for `module-mac`."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    with module.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            mac.update(block)
    return mac.hexdigest()
