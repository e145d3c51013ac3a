"""Deployment settings that override a FIPS image's cryptographic configuration from outside.

A FIPS image can refuse a removed or tampered file inside it, but not what whoever starts the container
sets: `OPENSSL_CONF`, `OPENSSL_MODULES` (and `OPENSSL_CONF_INCLUDE`) replace the configuration or the
provider directory, `OPENSSL_ia32cap` changes which code paths the module runs, `GODEBUG=fips140=off`
turns Go's FIPS mode off, a Java security override (`-Djava.security.properties=`, e.g. in
`JAVA_TOOL_OPTIONS`) replaces the provider list, Node's `--openssl-config` picks another file, and a
volume mounted over `/usr/lib/ssl` or `/etc/ssl` (or the provider directory) replaces openssl.cnf or
fipsmodule.cnf. Each one found in a workload's env, args or ConfigMaps is a finding against CM-6
(configuration settings) and SC-13 (cryptographic protection).
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from fipsforge.evidence.models import Container, Deployment, Workload

CONTROLS = ("cm-6", "sc-13")
OPENSSL_VARIABLES = ("OPENSSL_CONF", "OPENSSL_CONF_INCLUDE", "OPENSSL_MODULES", "OPENSSL_ia32cap")
PROTECTED_DIRS = ("/usr/lib/ssl", "/etc/ssl", "/usr/lib/x86_64-linux-gnu/ossl-modules")
"""Where openssl.cnf, fipsmodule.cnf and fips.so live in Debian-based images."""
UNAFFECTED_SUBDIRS = ("/etc/ssl/certs", "/usr/lib/ssl/certs")
"""CA bundles are commonly mounted here; they do not change which crypto runs."""

# Settings inside a text (an env value, an argument, a ConfigMap value), each with what it does.
TEXT_PATTERNS = [
    (re.compile(rf"\b({'|'.join(OPENSSL_VARIABLES)})\s*="), "sets {0}: replaces the image's OpenSSL configuration"),
    (re.compile(r"\bGODEBUG\s*=\s*\S*fips140=off"), "sets GODEBUG fips140=off: Go's FIPS mode is turned off"),
    (re.compile(r"(?<![\w.])fips140=off\b"), "fips140=off: Go's FIPS mode is turned off"),
    (re.compile(r"-Djava\.security\.properties=\S*"), "{0}: overrides the JVM's java.security provider list"),
    (re.compile(r"-Dcom\.redhat\.fips=false"), "{0}: turns the JVM's FIPS mode off"),
    (re.compile(r"--openssl-config=\S*"), "{0}: Node.js loads another OpenSSL configuration"),
]  # fmt: skip


class ConfigOverride(BaseModel):
    """One setting in a workload that overrides its image's FIPS configuration."""

    workload: str
    container: str
    image: str
    where: str
    """file:line of the workload in the manifests."""
    found_in: str
    """`env OPENSSL_CONF`, `args`, `ConfigMap conf/app.env`, `volume /usr/lib/ssl`."""
    setting: str
    message: str
    controls: list[str] = list(CONTROLS)


def _env_findings(name: str, value: str) -> list[tuple[str, str]]:
    """(setting, message) for one environment variable."""
    if name in OPENSSL_VARIABLES:
        return [(f"{name}={value}", f"sets {name}: replaces the image's OpenSSL configuration")]
    if name == "GODEBUG" and re.search(r"(^|,)\s*fips140=off\b", value):
        return [(f"GODEBUG={value}", "sets GODEBUG fips140=off: Go's FIPS mode is turned off")]
    return _text_findings(value)


def _text_findings(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for pattern, message in TEXT_PATTERNS:
        for match in pattern.finditer(text):
            setting = match.group(0).rstrip("=").strip()
            if not any(setting in earlier or earlier in setting for earlier, _ in found):
                found.append((setting, message.format(match.group(1) if pattern.groups else setting)))
    return found


def _covers_protected(path: str) -> bool:
    """Whether a volume at `path` hides or replaces a protected directory or a file in it."""
    clean = "/" + path.strip("/")
    if any(clean == d or clean.startswith(d + "/") for d in UNAFFECTED_SUBDIRS):
        return False
    return any(clean == d or clean.startswith(d + "/") or d.startswith(clean.rstrip("/") + "/")
               for d in PROTECTED_DIRS)  # fmt: skip


def _container_overrides(workload: Workload, container: Container) -> list[ConfigOverride]:
    def override(found_in: str, setting: str, message: str) -> ConfigOverride:
        return ConfigOverride(workload=workload.key, container=container.name, image=container.image,
                              where=str(workload.where), found_in=found_in, setting=setting, message=message)  # fmt: skip

    found = [override(f"env {name}", setting, message)
             for name, value in container.env.items() for setting, message in _env_findings(name, value)]  # fmt: skip
    found += [
        override("args", setting, message) for setting, message in _text_findings(" ".join(container.args))
    ]
    found += [override(f"ConfigMap {key}", setting, message)
              for key, value in container.config_values.items() for setting, message in _text_findings(value)]  # fmt: skip
    found += [
        override(f"volume {mount.path}", f"{mount.source} mounted at {mount.path}",
                 "a volume over the OpenSSL configuration or provider directory replaces openssl.cnf, "
                 "fipsmodule.cnf or fips.so")
        for mount in container.mounts if _covers_protected(mount.path)
    ]  # fmt: skip
    return found


def config_overrides(deployment: Deployment) -> list[ConfigOverride]:
    """Every override of the FIPS configuration in the deployment's workloads, in manifest order."""
    return [o for w in deployment.workloads for c in w.containers for o in _container_overrides(w, c)]
