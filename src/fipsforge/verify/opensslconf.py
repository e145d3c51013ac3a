"""The effective OpenSSL configuration inside an image: `OPENSSL_CONF` or OPENSSLDIR's openssl.cnf,
with `.include` followed (files and directories), read from the virtual tree."""

from __future__ import annotations

import re

from fipsforge.oci.tree import VirtualTree
from fipsforge.verify.model import OpenSSLConfig

Sections = dict[str, dict[str, str]]
DEFAULT_SECTION = "default"
MAX_INCLUDES = 32
TRUE_WORDS = {"1", "yes", "true", "on"}
_VAR = re.compile(r"\$(?:\{([\w:]+)\}|\(([\w:]+)\)|([\w]+(?:::\w+)?))")


def parse(
    tree: VirtualTree,
    path: str,
    env: dict[str, str],
    sections: Sections | None = None,
    files: list[str] | None = None,
    errors: list[str] | None = None,
) -> tuple[Sections, list[str]]:
    """Sections of the config at `path` (inside the image) and every file read, includes included.

    Lines OpenSSL's parser rejects (no `=`) are appended to `errors` as `file:line`.
    """
    sections = sections if sections is not None else {DEFAULT_SECTION: {}}
    files = files if files is not None else []
    errors = errors if errors is not None else []
    if len(files) >= MAX_INCLUDES:
        return sections, files
    node = tree.lookup(path)
    if node is not None and node.children is not None:  # an included directory: its *.cnf / *.conf files
        for name in tree.listdir(path):
            if name.endswith((".cnf", ".conf")):
                parse(tree, f"{path.rstrip('/')}/{name}", env, sections, files, errors)
        return sections, files
    data = tree.read_bytes(path)
    if data is None:
        return sections, files
    here = "/" + tree.realpath(path)
    files.append(here)
    current = DEFAULT_SECTION
    directory = path.rsplit("/", 1)[0] if "/" in path.strip("/") else ""
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        include = re.match(r"^\.include\s*=?\s*(.+)$", line)
        if include:
            target = include.group(1).strip().strip('"')
            if not target.startswith("/"):
                target = f"{directory}/{target}"
            parse(tree, target, env, sections, files, errors)
            continue
        if line.startswith(".pragma"):
            continue
        header = re.match(r"^\[\s*([^\]]+?)\s*\]$", line)
        if header:
            current = header.group(1)
            sections.setdefault(current, {})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            errors.append(f"{here}:{number}")
        else:
            section = sections.setdefault(current, {})
            section[key.strip()] = _expand(value.strip().strip('"'), section, sections, env)
    return sections, files


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for char in line:
        if char == "#" and not escaped:
            break
        escaped = char == "\\" and not escaped
        out.append(char)
    return "".join(out)


def _expand(value: str, section: dict[str, str], sections: Sections, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3) or ""
        if "::" in name:
            where, _, key = name.partition("::")
            if where == "ENV":
                return env.get(key, "")
            return sections.get(where, {}).get(key, "")
        return section.get(name, sections[DEFAULT_SECTION].get(name, ""))

    return _VAR.sub(replace, value)


def effective_config(tree: VirtualTree, env: dict[str, str], openssldir: str | None) -> OpenSSLConfig:
    """What the image's OpenSSL will load: which providers, which properties, which seed source."""
    candidates = [env["OPENSSL_CONF"]] if env.get("OPENSSL_CONF") else []
    candidates += [f"{openssldir}/openssl.cnf"] if openssldir else []
    candidates += ["/usr/lib/ssl/openssl.cnf", "/etc/ssl/openssl.cnf", "/usr/local/ssl/openssl.cnf"]
    path = next((c for c in candidates if tree.read_bytes(c) is not None), None)
    if path is None:
        return OpenSSLConfig(path=None, default_activated=True)
    errors: list[str] = []
    sections, files = parse(tree, path, env, errors=errors)
    default = sections[DEFAULT_SECTION]
    init_name = default.get("openssl_conf")
    config = OpenSSLConfig(path=path, files=files, nodejs_conf="nodejs_conf" in default, parse_errors=errors,
                           config_diagnostics=_number(default.get("config_diagnostics")) > 0)  # fmt: skip
    init = sections.get(init_name, {}) if init_name else {}
    providers = sections.get(init.get("providers", ""), {}) if init else {}
    any_active = False
    for name, section_name in providers.items():
        section = sections.get(section_name, {})
        active = section.get("activate", "").lower() in TRUE_WORDS
        any_active = any_active or active
        if name == "fips" or section.get("module", "").endswith("fips.so"):
            config.fips_activated = config.fips_activated or active
            config.fips_section = dict(section)
            continue
        if active and not config.fips_section:
            config.activated_before_fips.append(name)
        if name == "default":
            config.default_activated = config.default_activated or active
        elif name == "base":
            config.base_activated = config.base_activated or active
    if not any_active:
        config.default_activated = True  # no provider activated: OpenSSL falls back to the default provider
    algorithms = sections.get(init.get("alg_section", ""), {}) if init else {}
    config.default_properties = algorithms.get("default_properties")
    random = sections.get(init.get("random", ""), {}) if init else {}
    config.seed = random.get("seed")
    return config


def _number(value: str | None) -> int:
    """A config number as OpenSSL's NCONF_get_number reads it (leading digits; 0 when there are none)."""
    digits = re.match(r"\s*(\d+)", value or "")
    return int(digits.group(1)) if digits else 0


def fails_closed(config: OpenSSLConfig) -> list[str]:
    """Why a configuration that activates fips would NOT fail closed (empty when it does).

    OpenSSL skips a missing `.include` silently; if no provider was activated before fips, a fips that
    cannot load leaves libcrypto to fall back to the default provider on the first fetch.
    """
    reasons = []
    if not config.config_diagnostics:
        reasons.append("no config_diagnostics = 1 (configuration errors are ignored)")
    if not config.activated_before_fips:
        reasons.append("no provider is activated before fips, so with fips_sect missing (fipsmodule.cnf "
                       "removed) libcrypto falls back to the default provider")  # fmt: skip
    return reasons


def fips_sections(tree: VirtualTree, path: str) -> list[dict[str, str]]:
    """Every section of a standalone fipsmodule.cnf that records a module-mac."""
    sections, _ = parse(tree, path, {})
    return [section for section in sections.values() if "module-mac" in section]


def properties_require_fips(properties: str | None) -> bool:
    if not properties:
        return False
    clauses = [c.strip().replace(" ", "") for c in properties.split(",")]
    return any(c in ("fips=yes", "fips=true", "fips") for c in clauses) and "-fips" not in clauses
