"""Bad input for the stack: one clear line, nothing built, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fipsforge.apt import AptRoot, DebianMirrors, host_debian_mirrors
from fipsforge.cli import app
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir, cache_root, sweep_abandoned
from fipsforge.stack import build as stack_build_module
from fipsforge.stack.build import StackOptions, build_stack


def _no_sources(*_args: object) -> None:
    raise AssertionError("sources must not be fetched when the pairing input is wrong")


def test_wrong_provider_sha256_stops_before_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tarball = tmp_path / "openssl-3.0.9.tar.gz"
    tarball.write_bytes(b"not really a tarball")
    monkeypatch.setattr(stack_build_module, "fetch_source_package", _no_sources)
    options = StackOptions(fips_provider_source=tarball, fips_provider_sha256="ab" * 32)
    with pytest.raises(
        FipsforgeError, match=r"openssl-3\.0\.9\.tar\.gz: SHA-256 is [0-9a-f]{64}, not (ab){32}"
    ):
        build_stack(options)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fips-provider-sha256", "ab" * 32], "must be given together"),
        (
            ["--fips-provider-source", "/nonexistent.tar.gz", "--fips-provider-sha256", "ab" * 32],
            "no such file",
        ),
        (["--fips-provider-source", "/etc/hostname", "--fips-provider-sha256", "xyz"], "not a SHA-256"),
    ],
)
def test_pairing_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    env = {**os.environ, "FIPSFORGE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "fipsforge"), "stack", "build", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cache" / "stack").exists()


def test_missing_apt_source_names_the_line_to_add(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "other.list").write_text("deb https://example.invalid/apt stable main\n")
    with pytest.raises(FipsforgeError, match=r"no Debian archive .* add a line such as 'deb .* trixie main'"):
        host_debian_mirrors(tmp_path)


def test_mirrors_come_from_both_source_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [signed-by=/k.gpg] http://mirror.test/debian bookworm main\n"
        "deb http://mirror.test/debian-security bookworm-security main\n"
    )
    mirrors = host_debian_mirrors(tmp_path)
    assert (mirrors.archive, mirrors.security) == (
        "http://mirror.test/debian",
        "http://mirror.test/debian-security",
    )
    (tmp_path / "sources.list").unlink()
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://other.test/debian\nSuites: trixie trixie-updates\nComponents: main\n"
    )
    assert host_debian_mirrors(tmp_path).archive == "http://other.test/debian"


def test_unreachable_apt_source_names_the_line_to_add(tmp_path: Path) -> None:
    # Port 9 on loopback: nothing listens, so apt fails at once without leaving the machine.
    mirrors = DebianMirrors(archive="http://127.0.0.1:9/debian", found_in=tmp_path / "debian.sources")
    root = AptRoot.create(tmp_path / "apt", mirrors=mirrors)
    with pytest.raises(FipsforgeError) as raised:
        root.update()
    message = str(raised.value)
    assert "debian.sources" in message and "does not serve trixie" in message and "deb-src" in message
    assert "\n" not in message


def test_host_apt_state_is_untouched(tmp_path: Path) -> None:
    before = sorted(p.name for p in Path("/etc/apt/sources.list.d").iterdir())
    AptRoot.create(tmp_path / "apt", mirrors=host_debian_mirrors())
    assert sorted(p.name for p in Path("/etc/apt/sources.list.d").iterdir()) == before
    assert (tmp_path / "apt/etc/apt/sources.list.d/fipsforge.sources").read_text().count("trixie") >= 2


def test_interrupted_build_leaves_nothing_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_sources = cache_root() / "sources"
    monkeypatch.setenv("FIPSFORGE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    if real_sources.is_dir():  # reuse downloaded sources; the build itself is what gets interrupted
        (tmp_path / "cache" / "sources").symlink_to(real_sources)

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt  # as if Ctrl-C arrived while the first compiler ran

    monkeypatch.setattr(stack_build_module, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_stack()
    for layer in ("stack-compiled", "stack"):
        entries = tmp_path / "cache" / layer
        leftovers = (
            [p.name for p in entries.iterdir() if not p.name.endswith(".lock")] if entries.is_dir() else []
        )
        assert leftovers == [], layer  # only (empty) lock files stay: no entry, no temporary directory
    build_dirs = Path(tempfile.gettempdir()) / "fipsforge-build"
    assert [p for p in build_dirs.glob("stack-*") if p.is_dir()] == []


def test_leftovers_of_killed_processes_are_swept(tmp_path: Path) -> None:
    leftover = tmp_path / ".entry.tmp-999999999-abc"
    leftover.mkdir()
    (leftover / "half-written").write_text("x")
    alive = tmp_path / f".entry.tmp-{os.getpid()}-def"
    alive.mkdir()
    sweep_abandoned(tmp_path)
    assert not leftover.exists() and alive.exists()
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "entry") as staging:
        (staging / "partial").write_text("x")
        raise RuntimeError
    assert not (tmp_path / "entry").exists()
    assert [p.name for p in tmp_path.iterdir()] == [alive.name]


def test_cli_prints_one_line_errors_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "check", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, FipsforgeError)
    assert "no manifest.json" in str(result.exception)
