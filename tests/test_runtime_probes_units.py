"""Runtime probes without images: Go build info, Java providers and probe plan, runtimes without a probe, the reports."""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fipsforge.oci.unpack import RuntimeConfig, UnpackedImage
from fipsforge.sandbox.junit import junit_xml
from fipsforge.sandbox.runtimes import Context, go, java, java_class, not_probed
from fipsforge.sandbox.suite import CaseResult, RuntimeReport, Runtimes, Status

HOST_GO = [Path(p) for p in ("/usr/bin/skopeo", "/usr/bin/umoci") if Path(p).is_file()]


def _image(rootfs: Path, env: dict[str, str] | None = None) -> UnpackedImage:
    config = RuntimeConfig(entrypoint=["/usr/bin/true"], cmd=[], env=env or {}, user="", workdir="/")
    return UnpackedImage(
        ref=str(rootfs), kind="oci-layout", manifest_digest=None, rootfs=rootfs, config=config
    )


def _context(rootfs: Path, tmp: Path) -> Context:
    def find(names: tuple[str, ...]) -> str | None:
        return next((f"/usr/bin/{n}" for n in names if (rootfs / "usr/bin" / n).is_file()), None)

    return Context(find=find, openssl_cli=None, scratch=tmp)


@pytest.mark.skipif(not HOST_GO, reason="no Go binary (skopeo, umoci) on the host")
def test_go_build_info_of_a_real_binary_and_a_c_binary(tmp_path: Path) -> None:
    """skopeo/umoci (Debian's Go builds) carry build info; a C program does not."""
    info = go.build_info(HOST_GO[0])
    assert info is not None and info.version.startswith("go1.")
    assert go.build_info(Path(shutil.which("cc") or "/usr/bin/cc").resolve()) is None
    (tmp_path / "usr/bin").mkdir(parents=True)
    shutil.copy(HOST_GO[0], tmp_path / "usr/bin" / HOST_GO[0].name)
    shutil.copy("/bin/true", tmp_path / "usr/bin/true")
    plan = go.plan(_image(tmp_path), _context(tmp_path, tmp_path))
    assert plan is not None and [f.id for f in plan.findings] == [f"go-fips140-{HOST_GO[0].name}"]
    finding = plan.findings[0]
    assert (
        finding.outcome == "failed" and finding.non_validated == f"Go crypto/* (/usr/bin/{HOST_GO[0].name})"
    )
    assert info.version in finding.detail


def test_go_fips140_is_derived_like_the_go_runtime_does() -> None:
    """DefaultGODEBUG (from GOFIPS140) sets it; the image's GODEBUG overrides it; module v1.0.0 needs the kernel."""
    built = go.BuildInfo("go1.24.4", {"GOFIPS140": "v1.0.0", "DefaultGODEBUG": "fips140=on,x509sha1=1"})
    fips_mode, independent, detail = go.judge(built, "")
    assert (fips_mode, independent) == (True, False)
    assert "Enabled() is true" in detail and "seeds its DRBG from the kernel" in detail
    assert go.judge(built, "fips140=off")[:2] == (False, False)
    plain = go.BuildInfo("go1.24.4", {})
    assert go.judge(plain, "")[:2] == (False, False) and "Enabled() is false" in go.judge(plain, "")[2]
    assert go.judge(plain, "fips140=only")[0]
    newer = go.BuildInfo("go1.26.1", {"GOFIPS140": "v1.26.0", "DefaultGODEBUG": "fips140=on"})
    assert go.judge(newer, "")[:2] == (True, True) and go.judge(newer, "fips140=off")[:2] == (False, False)
    assert "predates crypto/fips140" in go.judge(go.BuildInfo("go1.19.8", {}), "fips140=on")[2]


JAVA_SECURITY = """
security.provider.2=SunRsaSign
security.provider.1=SUN
security.provider.10=SunPKCS11 ${java.home}/conf/security/nss.cfg
security.provider.3=SunEC
"""


def _jvm(rootfs: Path, java_security: str, on_path: bool) -> None:
    """A JVM laid out as Debian's: conf/security/java.security an absolute link into /etc."""
    jvm = rootfs / "usr/lib/jvm/java-21/bin"
    jvm.mkdir(parents=True)
    (jvm / "java").write_bytes(b"")
    (rootfs / "etc/java-21/security").mkdir(parents=True)
    (rootfs / "etc/java-21/security/java.security").write_text(java_security)
    (jvm.parent / "conf").mkdir()
    (jvm.parent / "conf/security").symlink_to("/etc/java-21/security")
    (rootfs / "usr/bin").mkdir()
    if on_path:
        (rootfs / "usr/bin/java").symlink_to("../lib/jvm/java-21/bin/java")


@pytest.mark.parametrize(
    ("java_security", "order_ok"),
    [
        (JAVA_SECURITY, False),
        ("security.provider.1=com.safelogic.cryptocomply.fips.core.CryptoComplyFipsProvider\n", True),
        ("security.provider.1=BCFIPS\nsecurity.provider.2=SUN\n", True),
    ],
)
def test_java_provider_order_and_the_jvm_probes(tmp_path: Path, java_security: str, order_ok: bool) -> None:
    """The file's order is a finding; the JVM is probed for MD5 (refused), SHA-256 and the same order."""
    _jvm(tmp_path, java_security, on_path=True)
    plan = java.plan(_image(tmp_path), _context(tmp_path, tmp_path))
    assert plan is not None
    (order,) = plan.findings
    assert (order.outcome == "passed") is order_ok
    assert order.detail.startswith("/usr/lib/jvm/java-21/conf/security/java.security: 1. ")
    probes = {check.probe.id: check for check in plan.checks}
    assert list(probes) == ["java-md5", "java-sha256", "java-provider-order-jvm"]
    md5 = probes["java-md5"]
    assert md5.non_validated == 'MessageDigest.getInstance("MD5")' and md5.probe.expect == "refused"
    assert md5.probe.commands[0][0] == "/usr/bin/java" and md5.probe.commands[0][-2:] == [
        "FipsforgeJavaProbe",
        "MD5",
    ]
    assert probes["java-sha256"].non_validated is None
    written = next(source for source, target in plan.binds.items() if target == java.CLASS_DIR)
    assert (written / "FipsforgeJavaProbe.class").read_bytes()[:4] == bytes.fromhex("cafebabe")
    if java_security == JAVA_SECURITY:
        assert order.detail.endswith(
            "1. SUN, 2. SunRsaSign, 3. SunEC, 4. SunPKCS11 ${java.home}/conf/security/nss.cfg"
        )
        assert order.non_validated == "the JDK's own providers (java.security)"


def test_java_found_under_usr_lib_jvm_without_the_alternatives_link(tmp_path: Path) -> None:
    _jvm(tmp_path, JAVA_SECURITY, on_path=False)
    plan = java.plan(_image(tmp_path), _context(tmp_path, tmp_path))
    assert plan is not None and plan.checks[0].probe.commands[0][0] == "/usr/lib/jvm/java-21/bin/java"
    (tmp_path / "usr/lib/jvm/java-21/bin/java").unlink()
    assert java.plan(_image(tmp_path), _context(tmp_path, tmp_path)) is None  # control: no JVM, no plan


def test_the_jvm_order_pattern_matches_what_the_jvm_prints() -> None:
    """Names must appear in the file's order; a class-name entry matches any provider name."""
    pattern = java.reported_order(["SUN", "sun.security.rsa.SunRsaSign", "SunPKCS11 ${java.home}/nss.cfg"])
    assert re.search(pattern, "[SUN version 21, SunRsaSign version 21, SunPKCS11 version 21]\nSUN 00")
    assert not re.search(pattern, "[SunRsaSign version 21, SUN version 21, SunPKCS11 version 21]")
    assert not re.search(pattern, "[SUN version 21, SunRsaSign version 21]")
    assert not re.search(
        pattern, "[SUN version 21, SunRsaSign version 21, SunPKCS11 version 21, SunEC version 21]"
    )


def _parse_class(
    data: bytes,
) -> tuple[tuple[int, int], dict[int, tuple[int, object]], list[dict[str, object]]]:
    """A reader for what the writer emits (JVMS chapter 4): version, constant pool, methods."""
    magic, minor, major, count = struct.unpack_from(">IHHH", data)
    assert magic == 0xCAFEBABE
    pool: dict[int, tuple[int, object]] = {}
    offset, index = 10, 1
    while index < count:
        tag = data[offset]
        if tag == 1:
            (length,) = struct.unpack_from(">H", data, offset + 1)
            pool[index] = (tag, data[offset + 3 : offset + 3 + length].decode())
            offset += 3 + length
        elif tag in (7, 8):
            pool[index] = (tag, struct.unpack_from(">H", data, offset + 1)[0])
            offset += 3
        else:
            assert tag in (9, 10, 12), tag
            pool[index] = (tag, struct.unpack_from(">HH", data, offset + 1))
            offset += 5
        index += 1
    _, this, _, interfaces, fields, methods = struct.unpack_from(">HHHHHH", data, offset)
    assert (interfaces, fields) == (0, 0) and pool[pool[this][1]][1] == java_class.CLASS_NAME  # type: ignore[index]
    offset += 12
    parsed = []
    for _ in range(methods):
        flags, name, descriptor, attributes = struct.unpack_from(">HHHH", data, offset)
        offset += 8
        method: dict[str, object] = {"flags": flags, "name": pool[name][1], "descriptor": pool[descriptor][1]}
        for _ in range(attributes):
            attribute, length = struct.unpack_from(">HI", data, offset)
            body = data[offset + 6 : offset + 6 + length]
            max_stack, max_locals, code_length = struct.unpack_from(">HHI", body)
            code = body[8 : 8 + code_length]
            handlers, inner = struct.unpack_from(">HH", body, 8 + code_length)
            method |= {"attribute": pool[attribute][1], "code": code, "handlers": handlers, "inner": inner,
                       "max": (max_stack, max_locals)}  # fmt: skip
            offset += 6 + length
        parsed.append(method)
    assert struct.unpack_from(">H", data, offset) == (0,) and offset + 2 == len(data)
    return (major, minor), pool, parsed


def test_the_java_probe_class_file_is_well_formed_and_linear() -> None:
    """Version 49.0, one `public static main`, a Code attribute with no attributes of its own (no
    StackMapTable), no exception handler, and only the straight-line opcodes: every pool reference resolves."""
    version, pool, methods = _parse_class(java_class.probe_class())
    assert version == (49, 0)
    (main,) = methods
    assert (main["flags"], main["name"], main["descriptor"]) == (0x0009, "main", "([Ljava/lang/String;)V")
    assert main["attribute"] == "Code" and main["handlers"] == 0 and main["inner"] == 0
    code = main["code"]
    assert isinstance(code, bytes)
    operand_sizes = {0x10: 1, 0x12: 1, 0xB2: 2, 0xB6: 2, 0xB7: 2, 0xB8: 2, 0xBB: 2}
    called, position = [], 0
    while position < len(code):
        opcode = code[position]
        assert opcode in java_class.OPCODES.values(), hex(opcode)  # no branch, no switch, no athrow
        if opcode in (0xB2, 0xB6, 0xB7, 0xB8):
            (ref,) = struct.unpack_from(">H", code, position + 1)
            tag, (owner, name_and_type) = pool[ref]  # type: ignore[misc]
            assert tag == (9 if opcode == 0xB2 else 10)
            name, _ = pool[name_and_type][1]  # type: ignore[misc]
            called.append(f"{pool[pool[owner][1]][1]}.{pool[name][1]}")  # type: ignore[index]
        position += 1 + operand_sizes.get(opcode, 0)
    assert position == len(code) and code[-1] == java_class.OPCODES["return"]
    assert called[:3] == [
        "java/lang/System.out",
        "java/security/Security.getProviders",
        "java/util/Arrays.toString",
    ]
    assert "java/security/MessageDigest.getInstance" in called
    with pytest.raises((AssertionError, struct.error)):  # control: the reader notices a truncated file
        _parse_class(java_class.probe_class()[:-3])


def replace_max_stack(max_stack: int) -> bytes:
    data = java_class.probe_class()
    code = data.index(struct.pack(">HH", java_class.MAX_STACK, java_class.MAX_LOCALS))
    return data[:code] + struct.pack(">H", max_stack) + data[code + 2 :]


@pytest.mark.skipif(shutil.which("java") is None, reason="no JVM on the host")
def test_the_java_probe_class_runs_on_the_hosts_jvm(tmp_path: Path) -> None:
    """The class loads (and is verified: classpath classes always are) on the host's JVM; an unknown
    algorithm is the refusal: exit 1, one line naming NoSuchAlgorithmException."""
    (tmp_path / f"{java_class.CLASS_NAME}.class").write_bytes(java_class.probe_class())

    def run(algorithm: str) -> subprocess.CompletedProcess[str]:
        argv = ["java", *java.JVM_FLAGS, "-cp", str(tmp_path), java_class.CLASS_NAME, algorithm]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    sha1 = run("SHA-1")
    assert sha1.returncode == 0, sha1.stderr
    providers, answer = sha1.stdout.splitlines()
    assert re.fullmatch(r"\[SUN version [^,]+(, \w+ version [^,\]]+)*\]", providers)
    assert answer == f"SUN {hashlib.sha1(b'abc').hexdigest()}"
    # control: the JVM verifies the class (the type-inferencing verifier's message): one operand-stack slot
    # fewer than the writer declares is refused
    (tmp_path / f"{java_class.CLASS_NAME}.class").write_bytes(replace_max_stack(java_class.MAX_STACK - 1))
    short = run("SHA-1")
    assert short.returncode == 1 and "VerifyError" in short.stderr and "Stack size too large" in short.stderr
    (tmp_path / f"{java_class.CLASS_NAME}.class").write_bytes(java_class.probe_class())
    refused = run("NO-SUCH-DIGEST")
    assert refused.returncode == 1 and refused.stdout.count("\n") == 1
    assert refused.stderr.strip().splitlines() == [
        'Exception in thread "main" java.security.NoSuchAlgorithmException: NO-SUCH-DIGEST MessageDigest not available'
    ]


def test_a_runtime_without_a_probe_is_not_probed_never_passed(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/ruby").write_bytes(b"")
    findings = not_probed(_context(tmp_path, tmp_path)).findings
    assert [(f.id, f.outcome) for f in findings] == [("ruby-not-probed", "not probed")]
    (tmp_path / "usr/bin/ruby").unlink()
    assert not not_probed(_context(tmp_path, tmp_path)).findings  # control: nothing there, nothing reported
    case = CaseResult(id="ruby-not-probed", group="runtimes not probed", description="Ruby", mode=None,
                      expect=None, status=Status(findings[0].outcome), detail=findings[0].detail)  # fmt: skip
    failed = case.model_copy(update={"id": "php-md5", "status": Status.FAILED, "non_validated_path": "md5()",
                                     "detail": "non-validated path: md5() answers (exit 0)"})  # fmt: skip
    report = RuntimeReport(
        image="x", kind="oci-layout", manifest_digest=None, entrypoint=[], cases=[case, failed],
        runtimes=Runtimes(openssl=None, python=None, node=None, fips_module=None, fips_module_config=None),
        randomness_calls=[], randomness_summary=[], kernel_dependent_paths=[],
    )  # fmt: skip
    assert report.model_dump(mode="json")["non_validated_paths"] == ["md5()"]
    root = ET.fromstring(junit_xml(report))
    skipped = root.find(".//testcase[@name='ruby-not-probed']/skipped")
    assert skipped is not None and skipped.get("message", "").startswith("not probed: /usr/bin/ruby")
    failure = root.find(".//testcase[@name='php-md5']/failure")
    assert failure is not None and failure.get("type") == "non-validated-path"
