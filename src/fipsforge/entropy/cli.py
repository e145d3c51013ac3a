"""`fipsforge entropy`: collect jitter noise on this host and assess it per SP 800-90B."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fipsforge.console import print_json, stderr_console
from fipsforge.entropy import iid as iid_track
from fipsforge.entropy import noniid, restart, samples
from fipsforge.entropy.estimators import Estimate

app = typer.Typer(
    name="entropy",
    help="Record this host's CPU-jitter noise and assess it per NIST SP 800-90B.",
    no_args_is_help=True,
)


def estimator_fields(estimates: list[Estimate]) -> dict[str, float | None]:
    """One JSON field per estimator, e.g. `literal_multi_mmc`, holding its min-entropy."""
    return {e.field: e.min_entropy for e in estimates}


def assessment(
    file: Path,
    bits: int | None,
    iid: bool,
    restart_file: Path | None,
    permutations: int = iid_track.PERMUTATIONS,
) -> tuple[dict[str, Any], str]:
    """Assess a sample file; returns the JSON document and the text report."""
    data = samples.load(file, bits)
    document: dict[str, Any]
    if iid:
        result = iid_track.assess(data, permutations=permutations)
        text = iid_track.render(result)
        document = {
            "track": "iid",
            **estimator_fields(result.estimates),
            **result.model_dump(exclude={"estimates"}),
        }
        document["details"] = [e.model_dump() for e in result.estimates]
    else:
        nresult = noniid.assess(data)
        text = noniid.render(nresult)
        document = {
            "track": "non-iid",
            **estimator_fields(nresult.estimates),
            **nresult.model_dump(exclude={"estimates"}),
        }
        document["details"] = [e.model_dump() for e in nresult.estimates]
    if restart_file is not None:
        rdata = samples.load(restart_file, data.bits)
        rresult = restart.restart_tests(rdata, float(document["assessed_min_entropy"]), iid)
        document["restart"] = rresult.model_dump()
        text += "\n\n" + restart.render(rresult)
    return document, text


@app.command()
def assess(
    file: Path = typer.Argument(
        ..., help="Sample file: one sample per byte, the low --bits bits are the symbol."
    ),
    bits: int | None = typer.Option(
        None, "--bits", help="Bits per symbol (1-8); inferred from the data if omitted."
    ),
    iid: bool = typer.Option(
        False, "--iid/--non-iid", help="Run the IID track (§5) or the non-IID track (§6.3)."
    ),
    restart_file: Path | None = typer.Option(
        None, "--restart", help="Restart data (1000 x 1000 samples, §3.1.4)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Estimate min-entropy per SP 800-90B, matching NIST's SP800-90B_EntropyAssessment."""
    document, text = assessment(file, bits, iid, restart_file)
    if json_output:
        print_json(document)
    else:
        stderr_console.print(f"[dim]{file}[/]", highlight=False)
        print(text)
