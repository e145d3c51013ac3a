"""Unit tests of the verify rules on small synthetic images: config, Go, SBOM formats, outputs and the CLI."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fipsforge.cli import app as main_app
from fipsforge.oci.tree import VirtualTree
from fipsforge.stack.config import hardened_openssl_cnf
from fipsforge.stack.integrity import DEFAULT_FIPS_KEY
from fipsforge.verify import opensslconf
from fipsforge.verify.analyze import verify_image
from fipsforge.verify.cli import verify
from fipsforge.verify.elfscan import parse_go_buildinfo, scan_elf
from fipsforge.verify.packages import apk_packages, dpkg_packages, sbom_packages
from oci_fixtures import Entry, layer, write_docker_archive, write_layout

FIPS_CNF = b"""
[fips_sect]
activate = 1
module-mac = 01:02:03
"""
# fipsforge's own hardened openssl.cnf, with a relative include instead of the absolute one
OPENSSL_CNF = hardened_openssl_cnf("fipsmodule.cnf").encode()


def _tree(entries: list[Entry]) -> VirtualTree:
    tree = VirtualTree()
    tree.add_layer(io.BytesIO(layer(entries)), "l0")
    return tree


def test_effective_config_follows_includes_and_openssl_conf() -> None:
    tree = _tree([
        Entry("usr/lib/ssl/openssl.cnf", data=OPENSSL_CNF),
        Entry("usr/lib/ssl/fipsmodule.cnf", data=FIPS_CNF),
        Entry("etc/ssl", "dir"),
        Entry("etc/ssl/plain.cnf", data=b"openssl_conf = init\n[init]\nproviders = p\n[p]\ndefault = d\n[d]\nactivate=1\n"),
    ])  # fmt: skip
    config = opensslconf.effective_config(tree, {}, "/usr/lib/ssl")
    assert config.path == "/usr/lib/ssl/openssl.cnf"
    assert config.files == ["/usr/lib/ssl/openssl.cnf", "/usr/lib/ssl/fipsmodule.cnf"]
    assert (config.fips_activated, config.base_activated, config.default_activated) == (True, True, False)
    assert config.default_properties == "fips=yes" and config.seed == "JITTER"
    assert config.fips_section["module-mac"] == "01:02:03"
    # OPENSSL_CONF from the image config wins over OPENSSLDIR
    other = opensslconf.effective_config(tree, {"OPENSSL_CONF": "/etc/ssl/plain.cnf"}, "/usr/lib/ssl")
    assert (other.path, other.fips_activated, other.default_activated) == ("/etc/ssl/plain.cnf", False, True)


def test_directory_include_and_variables() -> None:
    tree = _tree([
        Entry("etc/ssl/openssl.cnf", data=b"HOME=.\nopenssl_conf = init\n.include /etc/ssl/conf.d\n"),
        Entry("etc/ssl/conf.d", "dir"),
        Entry("etc/ssl/conf.d/10-init.cnf", data=b"[init]\nproviders = p\nalg_section = a\n[a]\nprop=fips=yes\n"),
        Entry("etc/ssl/conf.d/20-p.cnf", data=b"[p]\nfips = f\n[f]\nactivate = 1\n"),
        Entry("etc/ssl/conf.d/30-a.cnf", data=b"[a]\ndefault_properties = $prop  # trailing comment\n"),
        Entry("etc/ssl/conf.d/README", data=b"[p]\nfips = ignored\n"),
    ])  # fmt: skip
    config = opensslconf.effective_config(tree, {}, None)
    assert config.fips_activated and config.default_properties == "fips=yes"
    assert len(config.files) == 4


@pytest.mark.parametrize(
    ("properties", "required"),
    [("fips=yes", True), ("provider=fips,fips=yes", True), ("?fips=yes", False), ("", False), (None, False)],
)
def test_properties_require_fips(properties: str | None, required: bool) -> None:
    assert opensslconf.properties_require_fips(properties) is required


def test_dpkg_status_d_and_apk_database() -> None:
    tree = _tree([
        Entry("var/lib/dpkg/status.d/libssl3", data=b"Package: libssl3\nVersion: 3.0.17-1\n"),
        Entry("var/lib/dpkg/status", data=b"Package: gone\nVersion: 1\nStatus: deinstall ok config-files\n"),
        Entry("lib/apk/db/installed", data=b"P:libcrypto3\nV:3.4.0-r2\n\nP:zlib\nV:1.3-r0\n"),
    ])  # fmt: skip
    assert [(p.name, p.version) for p in dpkg_packages(tree)] == [("libssl3", "3.0.17-1")]
    assert [(p.name, p.version) for p in apk_packages(tree)] == [
        ("libcrypto3", "3.4.0-r2"),
        ("zlib", "1.3-r0"),
    ]


def test_cyclonedx_and_in_toto_sboms() -> None:
    cdx = {"bomFormat": "CycloneDX", "specVersion": "1.5",
           "components": [{"type": "library", "name": "libcrypto3", "version": "3.4.0-r2",
                           "components": [{"name": "inner", "version": "1"}]}]}  # fmt: skip
    found = sbom_packages(json.dumps(cdx).encode(), "x")
    assert found is not None and {(p.name, p.version) for p in found} == {
        ("libcrypto3", "3.4.0-r2"),
        ("inner", "1"),
    }
    statement = {"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://cyclonedx.org/bom",
                 "predicate": cdx}  # fmt: skip
    import base64

    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
    }
    wrapped = sbom_packages(json.dumps(envelope).encode(), "att")
    assert wrapped is not None and len(wrapped) == 2
    assert sbom_packages(b'{"hello": 1}', "x") is None and sbom_packages(b"\xff", "x") is None


# -- Go build info --------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _buildinfo(version: str, settings: dict[str, str]) -> bytes:
    sentinel = b"0" * 16
    mod = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n" + "".join(
        f"build\t{k}={v}\n" for k, v in settings.items()
    )
    modinfo = sentinel + mod.encode() + sentinel
    head = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    return head + _varint(len(version)) + version.encode() + _varint(len(modinfo)) + modinfo


def test_parse_go_buildinfo() -> None:
    info = parse_go_buildinfo(_buildinfo("go1.26.0", {"GOFIPS140": "v1.0.0", "CGO_ENABLED": "0"}))
    assert info is not None
    assert (info.go_version, info.path) == ("go1.26.0", "example.com/app")
    assert info.settings == {"GOFIPS140": "v1.0.0", "CGO_ENABLED": "0"}
    assert (
        parse_go_buildinfo(b"\xff Go buildinf:" + bytes(40)) is not None
    )  # old pointer format: version unknown
    assert parse_go_buildinfo(b"garbage") is None


def _go_elf(tmp: Path, settings: dict[str, str], symbols: bytes) -> bytes:
    if shutil.which("gcc") is None or shutil.which("objcopy") is None:
        pytest.skip("gcc/objcopy not installed")
    (tmp / "main.c").write_text("int main(void) { return 0; }\n")
    (tmp / "buildinfo").write_bytes(_buildinfo("go1.26.0", settings))
    (tmp / "names").write_bytes(symbols)
    subprocess.run(["gcc", "-o", str(tmp / "a.out"), str(tmp / "main.c")], check=True)
    subprocess.run(["objcopy", "--add-section", f".go.buildinfo={tmp / 'buildinfo'}",
                    "--add-section", f".gopclntab={tmp / 'names'}", str(tmp / "a.out")], check=True)  # fmt: skip
    return (tmp / "a.out").read_bytes()


GO_NAMES = b"\x00crypto/sha256.New\x00crypto/internal/fips140/aes.New\x00crypto/tls.(*Conn).Read\x00"


@pytest.mark.parametrize(
    ("settings", "names", "expected"),
    [
        ({"GOFIPS140": "v1.0.0", "DefaultGODEBUG": "fips140=on"},
         GO_NAMES + b"crypto/internal/entropy/v1.0.0.Seed\x00", ("pass", "yes", None)),
        ({"GOFIPS140": "v1.0.0", "DefaultGODEBUG": "fips140=on"}, GO_NAMES, ("fail", "no", None)),
        ({"GOFIPS140": "v1.0.0"}, GO_NAMES + b"crypto/internal/entropy/v1.0.0.Seed\x00", ("pass", "yes", "GO002")),
        ({"CGO_ENABLED": "0"}, GO_NAMES, ("fail", "no", "GO001")),
    ],
)  # fmt: skip
def test_go_fips_module_and_jitter(
    tmp_path: Path, settings: dict[str, str], names: bytes, expected: tuple[str, str, str | None]
) -> None:
    binary = _go_elf(tmp_path, settings, names)
    facts = scan_elf(binary)
    assert facts.go is not None and "crypto/tls" in facts.go_crypto_packages
    write_layout(tmp_path / "img", [layer([Entry("app", data=binary, mode=0o755)])])
    report = verify_image(str(tmp_path / "img"), tmp_path)
    verdict, kernel, rule = expected
    assert (report.verdict, report.kernel_independent) == (verdict, kernel)
    if rule:
        assert rule in {f.rule_id for f in report.findings}
    if "GOFIPS140" in settings:
        [module] = report.fips_modules
        assert (module.name, module.version, module.cmvp_certificate) == (
            "Go Cryptographic Module",
            "v1.0.0",
            "#5247",
        )


# -- outputs and the command ----------------------------------------------------------------------


def _wolfi(tmp: Path, version: str) -> Path:
    db = f"P:libcrypto3\nV:{version}\n\nP:openssl-provider-fips\nV:3.1.2-r0\n".encode()
    write_docker_archive(
        tmp / f"wolfi-{version}.tar", [layer([Entry("lib/apk/db/installed", data=db)], compress=False)]
    )
    return tmp / f"wolfi-{version}.tar"


def _runner_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(verify)
    return app


def test_cli_json_contract_sarif_and_fail_on(tmp_path: Path) -> None:
    runner = CliRunner()
    good, bad = _wolfi(tmp_path, "3.4.0-r2"), _wolfi(tmp_path, "3.4.0-r1")
    result = runner.invoke(_runner_app(), [f"docker-archive:{good}", "--json", "--fail-on", "high"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("image", "digest", "fips_modules", "kernel_independent", "kernel_independent_reasons", "verdict",
                "findings"):  # fmt: skip
        assert key in report
    assert report["verdict"] == "pass" and report["digest"] is None
    assert set(report["fips_modules"][0]) >= {"name", "version", "path", "cmvp_certificate", "cmvp_status",
                                              "integrity_ok"}  # fmt: skip
    sarif_path = tmp_path / "out.sarif"
    result = runner.invoke(_runner_app(), [str(bad), "--sarif", str(sarif_path), "--fail-on", "high"])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout and "KI001" in result.stdout
    sarif = json.loads(sarif_path.read_text())
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert any(r["ruleId"] == "KI001" and r["level"] == "error" for r in results)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    # the same failing image exits 0 without --fail-on, and with a threshold above its worst finding
    assert runner.invoke(_runner_app(), [str(bad)]).exit_code == 0
    assert runner.invoke(_runner_app(), [str(bad), "--fail-on", "critical"]).exit_code == 0
    assert runner.invoke(_runner_app(), [str(bad), "--fail-on", "low"]).exit_code == 1
    assert runner.invoke(_runner_app(), [str(good), "--fail-on", "info"]).exit_code == 0  # no findings at all


def test_cli_is_registered_and_bad_input_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main_app, ["verify", "--help"])
    assert result.exit_code == 0 and "--fail-on" in result.stdout
    missing = runner.invoke(_runner_app(), [str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "no such OCI layout" in str(missing.exception)
    given = tmp_path / "bad.json"
    given.write_text("[]")
    write_layout(tmp_path / "img", [layer([Entry("x", data=b"x")])])
    bad_sbom = runner.invoke(_runner_app(), [str(tmp_path / "img"), "--sbom", str(given)])
    assert "not an SPDX or CycloneDX" in str(bad_sbom.exception)


def test_hostile_layer_is_a_critical_finding_in_the_report(tmp_path: Path) -> None:
    write_layout(tmp_path / "img", [layer([Entry("../../evil", data=b"x"), Entry("dev/sda", "blk")])])
    report = verify_image(str(tmp_path / "img"), tmp_path)
    rules = {(f.rule_id, f.severity) for f in report.findings}
    assert {("oci/layer-path-traversal", "critical"), ("oci/layer-device-node", "critical")} <= rules
    assert report.verdict == "fail"


# -- other crypto libraries, static OpenSSL, Node and Java ------------------------------------------


def _elf(tmp: Path, name: str, blob: bytes = b"", libcrypto: bool = False) -> bytes:
    """A real little ELF program, optionally carrying `blob` in a section and a DT_NEEDED on libcrypto."""
    if shutil.which("gcc") is None or shutil.which("objcopy") is None:
        pytest.skip("gcc/objcopy not installed")
    source, out = tmp / f"{name}.c", tmp / name
    source.write_text("int main(void) { return 0; }\n")
    link = ["-Wl,--no-as-needed", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"] if libcrypto else []
    subprocess.run(["gcc", "-o", str(out), str(source), *link], check=True)
    if blob:
        (tmp / f"{name}.blob").write_bytes(blob)
        subprocess.run(
            ["objcopy", "--add-section", f".note.test={tmp / f'{name}.blob'}", str(out)], check=True
        )
    return out.read_bytes()


OPENSSL_TEXT = b"\x00OpenSSL 3.0.13 30 Jan 2024\x00"


def test_static_openssl_and_other_libraries(tmp_path: Path) -> None:
    entries = [
        Entry("usr/bin/app", data=_elf(tmp_path, "app", OPENSSL_TEXT), mode=0o755),
        Entry("usr/bin/gcry", data=_elf(tmp_path, "gcry", b"\x00gcry_check_version\x00Libgcrypt 1.10.3\x00")),
        Entry("usr/bin/wolf", data=_elf(tmp_path, "wolf", b"\x00wolfSSL_Init\x00")),
        Entry("usr/bin/linked", data=_elf(tmp_path, "linked", OPENSSL_TEXT, libcrypto=True)),
        Entry("usr/bin/plain", data=_elf(tmp_path, "plain")),
    ]
    write_layout(tmp_path / "img", [layer(entries)])
    report = verify_image(str(tmp_path / "img"), tmp_path)
    static = [
        (lib.path, lib.linkage, lib.version)
        for lib in report.crypto_libraries
        if lib.family.startswith("OpenSSL")
    ]
    assert static == [("/usr/bin/app", "static", "3.0.13")]  # the dynamically linked one is not a copy
    others = {
        (lib.family, lib.version, lib.path)
        for lib in report.crypto_libraries
        if not lib.family.startswith("OpenSSL")
    }
    assert others == {("libgcrypt", "1.10.3", "/usr/bin/gcry"), ("wolfssl", None, "/usr/bin/wolf")}
    assert {f.path for f in report.findings if f.rule_id == "CRYPTO001"} == {"/usr/bin/app"}
    assert {f.path for f in report.findings if f.rule_id == "CRYPTO002"} == {"/usr/bin/gcry", "/usr/bin/wolf"}


def test_node_shared_openssl_needs_nodejs_conf(tmp_path: Path) -> None:
    node = _elf(tmp_path, "node", libcrypto=True)
    without_node_conf = b"".join(
        line for line in OPENSSL_CNF.splitlines(keepends=True) if not line.startswith(b"nodejs_conf")
    )
    base = [
        Entry("usr/bin/node", data=node, mode=0o755),
        Entry("usr/lib/ssl/openssl.cnf", data=without_node_conf),
    ]
    write_layout(tmp_path / "a", [layer(base)])
    rules = {f.rule_id for f in verify_image(str(tmp_path / "a"), tmp_path).findings}
    assert {"NODE001", "NODE002"} <= rules
    # fipsforge's hardened openssl.cnf points nodejs_conf at the FIPS initialisation
    assert b"\nnodejs_conf = openssl_init" in OPENSSL_CNF
    write_layout(tmp_path / "b", [layer([base[0], Entry("usr/lib/ssl/openssl.cnf", data=OPENSSL_CNF)])])
    rules = {f.rule_id for f in verify_image(str(tmp_path / "b"), tmp_path).findings}
    assert "NODE001" in rules and "NODE002" not in rules
    write_layout(tmp_path / "c", [layer([Entry("usr/bin/node", data=_elf(tmp_path, "node2", OPENSSL_TEXT))])])
    rules = {f.rule_id for f in verify_image(str(tmp_path / "c"), tmp_path).findings}
    assert "NODE003" in rules


def test_java_bc_fips_and_providers(tmp_path: Path) -> None:
    security = b"security.provider.1=org.bouncycastle.jcajce.provider.BouncyCastleFipsProvider\nsecurity.provider.2=SUN\n"
    jdk = "usr/lib/jvm/java-21/conf/security/java.security"
    write_layout(
        tmp_path / "fips",
        [layer([Entry("opt/app/lib/bc-fips-2.0.0.jar", data=b"PK"), Entry(jdk, data=security)])],
    )
    report = verify_image(str(tmp_path / "fips"), tmp_path)
    [module] = report.fips_modules
    assert (module.name, module.version, module.cmvp_certificate) == (
        "Bouncy Castle FIPS Java API",
        "2.0.0",
        "#4743",
    )
    assert module.cmvp_sources and "retrieved" in module.cmvp_sources[0]
    assert "JAVA001" not in {f.rule_id for f in report.findings}
    plain = b"security.provider.1=SUN\nsecurity.provider.2=SunRsaSign\n"
    write_layout(tmp_path / "plain", [layer([Entry(jdk, data=plain)])])
    report = verify_image(str(tmp_path / "plain"), tmp_path)
    assert [(f.rule_id, f.severity) for f in report.findings if f.rule_id == "JAVA001"] == [
        ("JAVA001", "high")
    ]


def test_listed_but_inactive_providers_mean_the_default_provider() -> None:
    """Debian's openssl.cnf names default_sect with `activate` commented out: OpenSSL then loads default."""
    debian = b"openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\n" \
             b"default = default_sect\n[default_sect]\n# activate = 1\n"  # fmt: skip
    config = opensslconf.effective_config(
        _tree([Entry("usr/lib/ssl/openssl.cnf", data=debian)]), {}, "/usr/lib/ssl"
    )
    assert config.default_activated and not config.fips_activated
    hardened = opensslconf.effective_config(
        _tree([Entry("usr/lib/ssl/openssl.cnf", data=OPENSSL_CNF)]), {}, None
    )
    assert not hardened.default_activated


# -- where an OpenSSL FIPS module's seed comes from ------------------------------------------------


def _shared_object(tmp: Path, name: str, source: str, soname: str | None = None) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    (tmp / f"{name}.c").write_text(source)
    extra = [f"-Wl,-soname,{soname}"] if soname else []
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(tmp / name), str(tmp / f"{name}.c"), *extra], check=True
    )
    return (tmp / name).read_bytes()


def _strings(*texts: str) -> str:
    return "".join(f'__attribute__((used)) static const char s{n}[] = "{t}";\n' for n, t in enumerate(texts))


@pytest.mark.parametrize(
    ("version", "fips_jitter", "libcrypto_jitter", "seed", "kernel", "rule"),
    [
        ("3.1.2", True, False, "", "yes", None),
        # pre-3.2 modules use the legacy get_entropy upcall: jitter only with an enable-fips-jitter libcrypto
        ("3.1.2", False, True, "JITTER", "unknown", None),
        ("3.1.2", False, True, "", "no", "KI001"),
        ("3.1.2", False, False, "JITTER", "no", "CONF004"),
        # 3.2+ modules without internal jitter seed from the kernel whatever openssl.cnf says (the trap that
        # tests/test_stack.py shows at run time with Debian's fips.so)
        ("3.5.7", False, True, "JITTER", "no", "KI002"),
        ("3.5.7", True, True, "JITTER", "yes", None),
    ],
)
def test_openssl_fips_module_seed_source(
    tmp_path: Path,
    version: str,
    fips_jitter: bool,
    libcrypto_jitter: bool,
    seed: str,
    kernel: str,
    rule: str | None,
) -> None:
    fips_strings = ["OpenSSL FIPS Provider", version, *(["jent_entropy_init_ex (%d)"] if fips_jitter else [])]
    fips = _shared_object(
        tmp_path, "fips.so", _strings(*fips_strings) + "int OSSL_provider_init(void) { return 0; }\n"
    )
    crypto_strings = ["OpenSSL 3.4.0 22 Oct 2024", *(["jent_read_entropy (%d)"] if libcrypto_jitter else [])]
    libcrypto = _shared_object(tmp_path, "libcrypto.so.3", _strings(*crypto_strings), soname="libcrypto.so.3")
    mac = hmac.new(DEFAULT_FIPS_KEY, fips, hashlib.sha256).hexdigest().upper()
    fipsmodule = (
        f"[fips_sect]\nactivate = 1\nmodule-mac = {':'.join(mac[i : i + 2] for i in range(0, 64, 2))}\n"
    )
    cnf = OPENSSL_CNF.replace(b"seed = JITTER", f"seed = {seed}".encode() if seed else b"")
    entries = [
        Entry("usr/lib/x86_64-linux-gnu/ossl-modules/fips.so", data=fips),
        Entry("usr/lib/x86_64-linux-gnu/libcrypto.so.3", data=libcrypto),
        Entry("usr/lib/ssl/openssl.cnf", data=cnf),
        Entry("usr/lib/ssl/fipsmodule.cnf", data=fipsmodule.encode()),
    ]
    write_layout(tmp_path / "img", [layer(entries)])
    report = verify_image(str(tmp_path / "img"), tmp_path)
    [module] = report.fips_modules
    assert (module.version, module.integrity_ok, module.jitter_inside) == (version, True, fips_jitter)
    if version == "3.1.2":
        assert module.cmvp_certificate == "#4985" and module.cmvp_status.startswith("validated (#4985, ")
    else:
        assert module.cmvp_certificate is None
    assert report.kernel_independent == kernel, report.kernel_independent_reasons
    assert report.verdict == ("pass" if kernel == "yes" else "fail")
    if rule:
        assert rule in {f.rule_id for f in report.findings}
