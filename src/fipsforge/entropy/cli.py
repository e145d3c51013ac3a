"""`fipsforge entropy`: collect jitter noise on this host and assess it per SP 800-90B."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fipsforge.entropy import jent_flags
from fipsforge.errors import FipsforgeError

if TYPE_CHECKING:
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
    permutations: int | None = None,
) -> tuple[dict[str, Any], str]:
    """Assess a sample file; returns the JSON document and the text report. Imports only the track
    that runs: a 1-bit file is assessed in about the time the imports take."""
    from fipsforge.entropy import samples

    data = samples.load(file, bits)
    document: dict[str, Any]
    if iid:
        from fipsforge.entropy import iid as iid_track

        result = iid_track.assess(data, permutations=permutations or iid_track.PERMUTATIONS)
        text = iid_track.render(result)
        document = {
            "track": "iid",
            **estimator_fields(result.estimates),
            **result.model_dump(exclude={"estimates"}),
        }
        document["details"] = [e.model_dump() for e in result.estimates]
    else:
        from fipsforge.entropy import noniid

        nresult = noniid.assess(data)
        text = noniid.render(nresult)
        document = {
            "track": "non-iid",
            **estimator_fields(nresult.estimates),
            **nresult.model_dump(exclude={"estimates"}),
        }
        document["details"] = [e.model_dump() for e in nresult.estimates]
    if restart_file is not None:
        from fipsforge.entropy import restart

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
    from fipsforge.console import print_json
    from fipsforge.entropy.warm import warm_kernels

    with warm_kernels():
        document, text = assessment(file, bits, iid, restart_file)
    if json_output:
        print_json(document)
    else:
        from fipsforge.console import stderr_console

        stderr_console.print(f"[dim]{file}[/]", highlight=False)
        print(text)


def _flags(flags: int, names: list[str]) -> int:
    for name in names:
        if name not in jent_flags.FLAG_NAMES:
            raise FipsforgeError(f"--flag: unknown flag {name!r} (known: {', '.join(jent_flags.FLAG_NAMES)})")
        flags |= jent_flags.FLAG_NAMES[name]
    return flags


@app.command()
def collect(
    out: Path = typer.Argument(..., help="Directory to write (replaced atomically)."),
    osr: int = typer.Option(jent_flags.DEFAULT_OSR, "--osr", help="Oversampling rate given to the library."),
    flags: int = typer.Option(
        jent_flags.DEFAULT_FLAGS, "--flags", help="Library flags as a number (default: FORCE_FIPS)."
    ),
    flag: list[str] = typer.Option(
        [], "--flag", help=f"Add a library flag by name: {', '.join(jent_flags.FLAG_NAMES)}."
    ),
    samples_count: int = typer.Option(
        1_000_000, "--samples", help="Consecutive samples (SP 800-90B §3.1.3)."
    ),
    restarts: int = typer.Option(
        1000, "--restarts", help="Restarts for the restart set (§3.1.4); 0 for none."
    ),
    restart_samples: int = typer.Option(1000, "--restart-samples", help="Samples per restart."),
    source: Path | None = typer.Option(
        None, "--source", help="A jitterentropy source tree (default: the stack's)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Record raw time deltas from libjitterentropy's sampling loop on this host."""
    from fipsforge.console import print_json, stderr_console
    from fipsforge.entropy import collect as collecting

    with stderr_console.status("recording jitter samples"):
        info = collecting.collect(
            out,
            osr=osr,
            flags=_flags(flags, flag),
            samples=samples_count,
            restarts=restarts,
            restart_samples=restart_samples,
            source=source,
        )
    if json_output:
        print_json(info)
    else:
        print(f"{out}: {info.samples} deltas, {info.restarts} x {info.restart_samples} restart deltas")
        print(
            f"libjitterentropy {info.library_version}, osr {info.osr}, flags 0x{info.flags:x}, on {info.host.cpu}"
        )


@app.command()
def health(
    file: Path = typer.Argument(..., help="Raw deltas (*.u64) or a sample file (one sample per byte)."),
    h: float = typer.Option(..., "--h", help="Claimed min-entropy per sample."),
    alpha_log2: int = typer.Option(30, "--alpha-log2", help="False-positive rate alpha = 2^-N."),
    osr: int = typer.Option(jent_flags.DEFAULT_OSR, "--osr", help="The library's osr, for its own cutoffs."),
    window: int | None = typer.Option(None, "--window", help="APT window (default 1024; 512 for binary)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """RCT and APT cutoffs (SP 800-90B §4.4) and a run of both tests over a recording."""
    from fipsforge.console import print_json
    from fipsforge.entropy import health as health_tests

    result = health_tests.run(file, h, alpha_log2, osr, window)
    if json_output:
        print_json(result)
        return
    lib_rct, lib_apt = health_tests.library_cutoffs(osr)
    print(
        f"{result.file}: {result.samples} samples, claimed H = {result.claimed_h:g}, alpha = 2^-{result.alpha_log2}"
    )
    print(f"{'test':<34}{'cutoff':>8}{'window':>8}{'failures':>10}{'worst':>8}")
    rows = [("RCT (SP 800-90B §4.4.1)", result.rct), ("APT (SP 800-90B §4.4.2)", result.apt)]
    if result.library_rct and result.library_apt:
        rows += [
            (f"libjitterentropy RCT (stuck, osr {osr})", result.library_rct),
            (f"libjitterentropy APT (osr {osr})", result.library_apt),
        ]
    for name, t in rows:
        print(f"{name:<34}{t.cutoff:>8}{t.window or '':>8}{t.failures:>10}{t.worst:>8}")
    if not result.library_rct:
        print(
            f"libjitterentropy with osr {osr}: RCT cutoff {lib_rct} (on its stuck test), APT cutoff {lib_apt} of 512"
        )


@app.command()
def report(
    out: Path = typer.Argument(..., help="Report directory to write (replaced atomically)."),
    osr: int = typer.Option(jent_flags.DEFAULT_OSR, "--osr", help="Oversampling rate to judge against."),
    flags: int = typer.Option(jent_flags.DEFAULT_FLAGS, "--flags", help="Library flags as a number."),
    samples_count: int = typer.Option(1_000_000, "--samples", help="Consecutive samples to collect."),
    restarts: int = typer.Option(1000, "--restarts", help="Restarts (1000 x 1000 runs the restart tests)."),
    source: Path | None = typer.Option(
        None, "--source", help="A jitterentropy source tree (default: the stack's)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Collect, assess, judge min-entropy per delta against 1/osr, recommend an osr, and plot."""
    from fipsforge.console import print_json, stderr_console
    from fipsforge.entropy import report as reporting
    from fipsforge.entropy.warm import warm_kernels

    with warm_kernels(), stderr_console.status("collecting and assessing"):
        result = reporting.report(
            out, osr=osr, flags=flags, samples_count=samples_count, restarts=restarts, source=source
        )
    if json_output:
        print_json(result)
    else:
        print(reporting.render(result))
        print(f"Plots and report.json in {out}")
