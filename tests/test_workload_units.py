"""Units of the workload pieces that need no image: the ld.so search, service specs, call attribution."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.image.runnable import check_runnable, ld_so_conf_dirs
from fipsforge.image.spec import parse_spec
from fipsforge.sandbox import RandomnessCall
from fipsforge.sandbox.services import OWN_RANDOMNESS, _own_randomness


def test_ld_so_conf_follows_includes_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "etc/ld.so.conf.d").mkdir(parents=True)
    (tmp_path / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n/opt/direct # comment\n")
    (tmp_path / "etc/ld.so.conf.d/b.conf").write_text("/usr/lib/b\n")
    (tmp_path / "etc/ld.so.conf.d/a.conf").write_text("# nothing\n/usr/lib/a\n")
    (tmp_path / "etc/ld.so.conf.d/skip.txt").write_text("/not/included\n")
    assert ld_so_conf_dirs(tmp_path) == ["/usr/lib/a", "/usr/lib/b", "/opt/direct"]
    assert ld_so_conf_dirs(tmp_path / "empty") == []  # control: no ld.so.conf, no extra directories


def test_script_is_followed_to_its_interpreter(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/tool").write_text("#!/usr/bin/perl -w\nprint 1;\n")
    with pytest.raises(
        FipsforgeError, match=r"^entrypoint: /usr/bin/tool: its interpreter /usr/bin/perl is not"
    ):
        check_runnable(tmp_path, ["tool"], ["/usr/bin"], {}, "entrypoint")
    # an absolute symlink resolves inside the root, where /usr/bin/env is missing: not present
    (tmp_path / "usr/bin/perl").symlink_to("/usr/bin/env")
    with pytest.raises(FipsforgeError, match="interpreter /usr/bin/perl is not in the image"):
        check_runnable(tmp_path, ["/usr/bin/tool"], [], {}, "entrypoint")
    (tmp_path / "usr/bin/perl").unlink()
    (tmp_path / "usr/bin/perl").write_text("#!/usr/bin/tool\n")  # control: a present interpreter passes
    check_runnable(tmp_path, ["/usr/bin/tool"], [], {}, "entrypoint")


def test_service_fields_are_validated() -> None:
    base = "name: t/s\npackages: [libc6]\nentrypoint: [/bin/x]\nservices:\n"
    spec = parse_spec(base + "  - name: db\n    tls_port: 5432\n    protocol: postgres\n", "s.yaml")
    assert spec.services[0].protocol == "postgres" and spec.services[0].command == []
    with pytest.raises(FipsforgeError, match=r"^s.yaml: services.0.protocol: "):
        parse_spec(base + "  - name: db\n    protocol: mysql\n", "s.yaml")
    with pytest.raises(FipsforgeError, match=r"^s.yaml: services.0.tls_port: "):
        parse_spec(base + "  - name: db\n    tls_port: 70000\n", "s.yaml")
    with pytest.raises(FipsforgeError, match=r"^s.yaml: services: the name 'db' is used twice$"):
        parse_spec(base + "  - name: db\n  - name: db\n", "s.yaml")


def _call(library: str | None, frames: list[str]) -> RandomnessCall:
    return RandomnessCall(pid=1, syscall="getrandom", detail="", result="32", denied=False, frames=frames,
                          library=library).classify()  # fmt: skip


def test_only_calls_without_openssl_in_their_stack_are_the_servers_own() -> None:
    own = _own_randomness(
        _call("/usr/sbin/haproxy", ["/usr/sbin/haproxy()", "/usr/lib/libc.so.6(__libc_start_main)"])
    )
    assert own.purpose == OWN_RANDOMNESS and not own.crypto_relevant
    seeding = _own_randomness(
        _call(
            "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
            ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3()", "/usr/sbin/nginx()"],
        )
    )
    assert seeding.crypto_relevant and seeding.purpose == "OpenSSL libcrypto seeding"
    unknown = _own_randomness(_call(None, []))
    assert unknown.crypto_relevant and unknown.purpose == "unknown"
