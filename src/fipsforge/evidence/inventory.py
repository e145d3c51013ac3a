"""The flow inventory: one row per flow, as CSV and as a Markdown table."""

from __future__ import annotations

import csv
import io

from fipsforge.evidence.models import Endpoint, Flow

COLUMNS = [
    "flow",
    "kind",
    "client",
    "client image",
    "client FIPS module",
    "client CMVP",
    "server",
    "server image",
    "server FIPS module",
    "server CMVP",
    "protocol",
    "port",
    "encrypted",
    "encrypted by",
    "status",
    "observed",
    "derived from",
]


def _module(end: Endpoint) -> str:
    return end.module.label()


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def rows(flows: list[Flow]) -> list[list[str]]:
    return [
        [
            f.id,
            f.kind,
            f.client.label,
            f.client.image or "",
            _module(f.client),
            f.client.module.status,
            f.server.label,
            f.server.image or "",
            _module(f.server),
            f.server.module.status,
            f.protocol,
            "" if f.port is None else str(f.port),
            _yes_no(f.encrypted),
            f.encryption,
            f.status,
            f.observed,
            "; ".join(f.derived_from),
        ]
        for f in flows
    ]


def to_csv(flows: list[Flow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(flows))
    return buffer.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


MARKDOWN_COLUMNS = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15]


def to_markdown(flows: list[Flow], title: str) -> str:
    header = [COLUMNS[i] for i in MARKDOWN_COLUMNS]
    lines = [
        f"# Flow inventory: {title}",
        "",
        f"{len(flows)} flows; {sum(f.status in ('plaintext', 'non-fips') for f in flows)} plaintext or non-FIPS.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows(flows):
        cells = [row[i] for i in MARKDOWN_COLUMNS]
        status = cells[-2]
        if status in ("plaintext", "non-fips"):
            cells[-2] = f"**{status}**"
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
