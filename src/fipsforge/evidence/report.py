"""The HTML report: one self-contained file (inline SVG and CSS, no scripts, no external links)."""

from __future__ import annotations

import re
from collections import Counter
from html import escape

from fipsforge.evidence.bundle import Evidence
from fipsforge.evidence.diagram import COLOURS

CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em; color: #1d2733; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
.status { font-weight: bold; }
.sev-high { color: #b00020; font-weight: bold; } .sev-medium { color: #b36b00; } .sev-info { color: #555; }
.summary span { display: inline-block; margin-right: 1.5em; }
.diagram svg { max-width: 100%; height: auto; }
.overdue { color: #b00020; font-weight: bold; }
"""


def _table(header: list[str], rows: list[list[str]], raw_columns: frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{c if i in raw_columns else escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline_svg(svg: bytes) -> str:
    text = svg.decode("utf-8")
    return re.sub(r"^.*?(?=<svg)", "", text, count=1, flags=re.S)


def _status(status: str) -> str:
    colour = COLOURS.get(status, "black")  # type: ignore[call-overload]
    return (
        f'<span class="status" style="color:{colour}" data-status="{escape(status)}">{escape(status)}</span>'
    )


def _outdated_section(evidence: Evidence) -> str:
    """One row per image from `fipsforge outdated`: how far behind, the oldest open fix, what is overdue."""
    if not evidence.outdated:
        return "<p>No <code>fipsforge outdated</code> result was supplied (pass --outdated).</p>"
    rows = []
    for image in evidence.outdated:
        oldest = image.oldest_open_fix
        overdue = image.overdue
        late = ", ".join(
            f"{c.cve} ({'vendor SLA' if c.overdue_vendor else ''}"
            f"{' and ' if c.overdue_vendor and c.overdue_fedramp else ''}"
            f"{'FedRAMP' if c.overdue_fedramp else ''})"
            for c in overdue
        )
        rows.append(
            [
                escape(image.image),
                f'<span data-outdated="{escape(image.status)}">{escape(image.status)}</span>',
                escape(
                    f"{len(image.behind)} of {image.packages_checked} packages"
                    + (f"; {len(image.components)} fipsforge components" if image.components else "")
                    + (f"; {len(image.missing)} gone from the archive" if image.missing else "")
                ),
                escape(f"{oldest.cve}, fixed {oldest.fix_date} ({oldest.days_open} days)")
                if oldest
                else "none",
                f'<span class="overdue">{len(overdue)} overdue: {escape(late)}</span>' if overdue else "none",
            ]
        )
    return _table(
        ["image", "status", "behind", "oldest open fix", "overdue"], rows, raw_columns=frozenset(range(5))
    )


def render_html(evidence: Evidence, svg: bytes) -> str:
    counts = Counter(f.status for f in evidence.flows)
    summary = "".join(f"<span>{_status(status)}: {counts.get(status, 0)}</span>" for status in COLOURS)
    flows = _table(
        [
            "client",
            "client FIPS module",
            "server",
            "server FIPS module",
            "protocol",
            "port",
            "encrypted by",
            "status",
            "observed",
        ],
        [
            [
                f.client.label,
                f"{f.client.module.label()} — {f.client.module.status}",
                f.server.label,
                f"{f.server.module.label()} — {f.server.module.status}",
                f.protocol,
                str(f.port or ""),
                f.encryption,
                _status(f.status),
                f.observed,
            ]
            for f in evidence.flows
        ],
        raw_columns=frozenset({7}),
    )
    images = _table(
        ["image", "digest", "FIPS module", "CMVP", "verify", "kernel-independent", "used by"],
        [
            [
                i.image,
                i.digest or "",
                i.module.label(),
                i.module.status,
                i.verdict,
                i.kernel_independent,
                ", ".join(i.used_by),
            ]
            for i in evidence.images
        ],
    )
    findings = _table(
        ["severity", "subject", "finding"],
        [
            [
                f'<span class="sev-{escape(f.severity)}">{escape(f.severity)}</span>',
                escape(f.subject),
                escape(f.message),
            ]
            for f in evidence.findings
        ],
        raw_columns=frozenset({0, 1, 2}),
    )
    poam_rows = [
        [
            e.poam_id,
            e.finding.vulnerability_id,
            e.finding.severity,
            e.finding.package + " " + e.finding.installed_version,
            e.finding.asset,
            e.finding.discovered.isoformat(),
            f"{e.fedramp_due.isoformat()} ({e.fedramp_clock})" + (" OVERDUE" if e.overdue_fedramp else ""),
            f"{e.vendor_due.isoformat()} ({e.vendor_days} days)" + (" OVERDUE" if e.overdue_vendor else ""),
        ]
        for e in evidence.poam
    ]
    poam = (
        _table(
            [
                "POA&M",
                "vulnerability",
                "severity",
                "package",
                "asset",
                "discovered",
                "FedRAMP due",
                "vendor SLA due",
            ],
            poam_rows,
        )
        if evidence.poam
        else "<p>No vulnerability scan or outdated result was supplied.</p>"
    )
    probes = (
        _table(
            ["endpoint", "verdict", "TLS versions", "cipher suites", "groups", "certificate keys", "reasons"],
            [
                [
                    p.label or p.target,
                    p.verdict,
                    ", ".join(p.tls_versions),
                    ", ".join(c.name for c in p.cipher_suites),
                    ", ".join(g.name for g in p.groups),
                    ", ".join(f"{k.algorithm} {k.curve or k.size}" for k in p.certificate_keys),
                    "; ".join(p.reasons) or "all accepted parameters are approved",
                ]
                for p in evidence.probes
            ],
        )
        if evidence.probes
        else "<p>No endpoint was probed (run <code>fipsforge evidence probe</code> and pass --observed).</p>"
    )
    certificates = _table(
        [
            "certificate",
            "module",
            "versions",
            "standard",
            f"status on {evidence.today.isoformat()}",
            "sunset",
            "sources (retrieved)",
        ],
        [
            [
                c.certificate,
                c.module,
                ", ".join(c.module_versions),
                c.standard + (f" level {c.level}" if c.level else ""),
                c.status_on(evidence.today),
                c.sunset_date.isoformat() if c.sunset_date else "not recorded",
                "; ".join(f"{s.source} ({s.retrieved.isoformat()}): {', '.join(s.facts)}" for s in c.sources),
            ]
            for c in evidence.certificates
        ],
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in evidence.notes) or "<li>none</li>"
    title = escape(evidence.title)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fipsforge evidence: {title}</title>
<style>{CSS}</style></head>
<body>
<h1>FedRAMP Rev 5 evidence: {title}</h1>
<p>Status on {evidence.today.isoformat()}; generated {escape(evidence.generated.isoformat())} by fipsforge from
{escape(", ".join(evidence.inputs))}.</p>
<p class="summary" id="summary">{len(evidence.flows)} flows: {summary}</p>
<h2 id="diagram">Authorization boundary and data flows</h2>
<div class="diagram">{_inline_svg(svg)}</div>
<h2 id="findings">Findings</h2>
{findings}
<h2 id="flows">Flow inventory</h2>
{flows}
<h2 id="images">Images and FIPS modules</h2>
{images}
<h2 id="cmvp">CMVP certificates and warnings</h2>
{certificates}
<ul>{"".join(f"<li>{escape(w)}</li>" for w in evidence.cmvp_warnings) or "<li>none</li>"}</ul>
<h2 id="poam">POA&amp;M</h2>
{poam}
<h2 id="outdated">Images behind Debian</h2>
{_outdated_section(evidence)}
<h2 id="observed">Observed TLS</h2>
{probes}
<h2 id="notes">Notes</h2>
<ul>{notes}</ul>
</body></html>
"""
