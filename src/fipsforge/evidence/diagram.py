"""The authorization-boundary and data-flow diagram, drawn with Graphviz.

The boundary is a box; each pod is a box inside it holding its containers; external services and
users sit outside. Each flow is an edge coloured by its status, with SVG id `flow-<id>`, so a reader
(or a test) can find it. Plaintext and non-FIPS flows are red.
"""

from __future__ import annotations

import re

import graphviz

from fipsforge.errors import FipsforgeError
from fipsforge.evidence.models import Endpoint, Flow, FlowStatus

COLOURS: dict[FlowStatus, str] = {
    "fips": "darkgreen",
    "fips-historical": "goldenrod",
    "unverified": "darkorange",
    "non-fips": "red",
    "plaintext": "red",
}
LEGEND: dict[FlowStatus, str] = {
    "fips": "encrypted, validated FIPS module on each end",
    "fips-historical": "encrypted, a module's certificate is historical",
    "unverified": "encryption or a module unknown",
    "non-fips": "encrypted without a validated FIPS module",
    "plaintext": "unencrypted",
}


def _node_id(label: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9]+", "_", label)


def _node_label(end: Endpoint) -> str:
    name = end.container or end.label
    module = end.module
    if module.name in ("unknown", "none", "n/a"):
        return f"{name}\\nFIPS module: {module.name}"
    return f"{name}\\n{module.label()}\\n{module.status}"


def build_graph(flows: list[Flow], title: str) -> graphviz.Digraph:
    graph = graphviz.Digraph("boundary", graph_attr={"rankdir": "LR", "fontname": "Helvetica"})
    graph.attr(
        "node", shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica", fontsize="10"
    )
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    endpoints: dict[str, Endpoint] = {}
    for flow in flows:
        endpoints.setdefault(flow.client.label, flow.client)
        endpoints.setdefault(flow.server.label, flow.server)
    pods: dict[str, list[Endpoint]] = {}
    inside_other: list[Endpoint] = []
    outside: list[Endpoint] = []
    for end in endpoints.values():
        if end.workload:
            pods.setdefault(end.workload, []).append(end)
        elif end.inside_boundary:
            inside_other.append(end)
        else:
            outside.append(end)
    with graph.subgraph(name="cluster_boundary") as boundary:
        boundary.attr(label=title, style="bold", color="black", penwidth="2")
        for workload, ends in sorted(pods.items()):
            with boundary.subgraph(name=f"cluster_{_node_id(workload)}") as pod:
                pod.attr(
                    label=f"pod {workload}", style="rounded,filled", fillcolor="#f3f6fa", color="#7a8ca3"
                )
                for end in sorted(ends, key=lambda e: e.label):
                    pod.node(_node_id(end.label), _node_label(end))
        for end in inside_other:
            boundary.node(_node_id(end.label), _node_label(end), shape="cylinder")
    for end in outside:
        shape = "oval" if end.label == "internet" else "component"
        graph.node(_node_id(end.label), _node_label(end), shape=shape, fillcolor="#fff7e6")
    for flow in flows:
        colour = COLOURS[flow.status]
        port = f":{flow.port}" if flow.port else ""
        observed = " (observed)" if flow.observed != "not-observed" else ""
        graph.edge(
            _node_id(flow.client.label),
            _node_id(flow.server.label),
            label=f"{flow.protocol}{port}\\n{flow.status}{observed}",
            color=colour,
            fontcolor=colour,
            penwidth="2.5" if colour == "red" else "1.5",
            style="dashed" if flow.encrypted is None else "solid",
            id=f"flow-{flow.id}",
            tooltip=f"{flow.client.label} -> {flow.server.label}: {flow.encryption}",
        )
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label="legend", color="#cccccc")
        for status, text in LEGEND.items():
            legend.node(f"legend_{status}", f"{status}: {text}", shape="plaintext", fontcolor=COLOURS[status])
    return graph


def render(flows: list[Flow], title: str) -> tuple[bytes, bytes]:
    """(SVG, PNG) bytes of the diagram."""
    graph = build_graph(flows, title)
    try:
        return graph.pipe(format="svg"), graph.pipe(format="png")
    except graphviz.ExecutableNotFound:
        raise FipsforgeError(
            "graphviz: the `dot` program is not installed (Debian package graphviz)"
        ) from None
    except graphviz.CalledProcessError as error:
        raise FipsforgeError(f"graphviz: dot failed: {error.stderr!r}") from None
