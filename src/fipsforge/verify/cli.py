"""`fipsforge verify IMAGE`: static FIPS-boundary analysis of a container image."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from fipsforge.errors import FipsforgeError
from fipsforge.oci.limits import MAX_ENTRIES, MAX_TOTAL_BYTES


class FailOn(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


def verify(
    image: str = typer.Argument(
        ..., help="oci:DIR[:TAG], docker-archive:FILE, docker://HOST/NAME:TAG, or a bare layout/archive path."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
    sarif_file: Path | None = typer.Option(None, "--sarif", help="Also write SARIF 2.1.0 to this file."),
    cbom_file: Path | None = typer.Option(
        None, "--cbom", help="Also write a CycloneDX 1.6 cryptography bill of materials to this file."
    ),
    fail_on: FailOn | None = typer.Option(
        None, "--fail-on", help="Exit 1 when a finding is this severe or worse."
    ),
    sbom: list[Path] = typer.Option(
        [], "--sbom", help="An SPDX or CycloneDX JSON SBOM for the image (repeatable)."
    ),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Scratch directory (default: a temporary one)."
    ),
    max_bytes: int = typer.Option(MAX_TOTAL_BYTES, help="Refuse layers past this many bytes in all."),
    max_entries: int = typer.Option(MAX_ENTRIES, help="Refuse layers past this many entries in all."),
    key: Path | None = typer.Option(
        None, "--key", help="Check the cosign signature and attestations against this public key."
    ),
    require_attestations: bool = typer.Option(
        False, "--require-attestations", help="With --key: a missing SBOM or provenance attestation is high."
    ),
) -> None:
    """Is all the image's cryptography inside a FIPS module, and is that module seeded without the kernel?"""
    if require_attestations and key is None:
        raise FipsforgeError("--require-attestations: needs --key")
    import json
    import tempfile

    from rich.console import Console

    from fipsforge.console import print_json, stderr_console
    from fipsforge.fsutil import write_text_atomic
    from fipsforge.oci.tree import ReadLimits
    from fipsforge.verify.analyze import verify_image
    from fipsforge.verify.report import exceeds, print_table, sarif

    limits = ReadLimits(max_total_bytes=max_bytes, max_entries=max_entries)
    with (
        tempfile.TemporaryDirectory(prefix="fipsforge-verify-", dir=work_dir) as scratch,
        stderr_console.status(f"reading {image}"),
    ):
        report = verify_image(image, Path(scratch), sbom_files=sbom, limits=limits, key=key,
                              require_attestations=require_attestations)  # fmt: skip
    if sarif_file is not None:
        write_text_atomic(sarif_file, json.dumps(sarif(report), indent=2) + "\n")
    if cbom_file is not None:
        from fipsforge.verify.cbom import cbom

        write_text_atomic(cbom_file, cbom(report) + "\n")
    if json_out:
        print_json(report)
    else:
        print_table(report, Console())
    if fail_on is not None and exceeds(report, fail_on.value):
        raise typer.Exit(1)
