"""Derive every client→server flow of a deployment and classify it.

Sources, in order of authority: the overlay (declared flows, TLS settings, external services);
references to hosts in env vars, args and ConfigMaps (URLs, host:port, bare service names, localhost
for intra-pod flows); NetworkPolicy ingress rules; Ingress routes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs

from fipsforge import cmvp
from fipsforge.evidence.models import (
    Container,
    Deployment,
    Endpoint,
    FipsModuleRef,
    Flow,
    FlowKind,
    FlowStatus,
    Note,
    Service,
    Workload,
)
from fipsforge.evidence.overlay import ExternalService, Overlay
from fipsforge.evidence.verifyresult import VerifyResult, module_of

URL = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^@/\s\"']*@)?(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)"
    r"(?::(?P<port>\d{1,5}))?(?P<rest>[^\s\"';]*)"
)
HOST_PORT = re.compile(
    r"(?<![\w./:-])(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{2,5})(?![\w.])"
)
LOCALHOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
IGNORED_HOSTS = {"0.0.0.0", "::", "[::]"}

WELL_KNOWN_PORTS = {
    80: "http",
    443: "https",
    8080: "http",
    8443: "https",
    5432: "postgresql",
    6379: "redis",
    6380: "rediss",
    3306: "mysql",
    27017: "mongodb",
    5672: "amqp",
    5671: "amqps",
    9092: "kafka",
    11211: "memcached",
    4317: "otlp-grpc",
    4318: "otlp-http",
    636: "ldaps",
    389: "ldap",
}
TLS_SCHEMES = {
    "https",
    "wss",
    "rediss",
    "amqps",
    "ldaps",
    "grpcs",
    "smtps",
    "ftps",
    "mongodb+srv",
    "ssl",
    "tls",
}
PLAIN_SCHEMES = {"http", "ws", "redis", "amqp", "ldap", "ftp", "smtp", "memcached", "grpc"}
TLS_PORT_NAMES = {"https", "tls", "grpcs", "rediss", "amqps", "ldaps"}
TLS_PORTS = {443, 8443, 6380, 5671, 636}
POSTGRES_TLS_MODES = {"require", "verify-ca", "verify-full"}


@dataclass
class Encryption:
    encrypted: bool | None
    by: str


@dataclass
class _Target:
    """A resolved server: a container behind a Service or in the same pod, or an external service."""

    endpoint: Endpoint
    port: int | None
    protocol: str | None
    kind: FlowKind
    service: Service | None = None
    external: ExternalService | None = None


@dataclass
class _Draft:
    kind: FlowKind
    client: Endpoint
    server: Endpoint
    protocol: str
    port: int | None
    encryption: Encryption
    derived_from: list[str] = field(default_factory=list)
    authority: int = 0
    """0 heuristics, 1 URL scheme, 2 overlay TLS setting or declared flow."""


def encryption_of_url(scheme: str, rest: str) -> Encryption:
    """Whether a URL's scheme and parameters demand TLS."""
    scheme = scheme.lower()
    query = parse_qs(rest.split("?", 1)[1]) if "?" in rest else {}
    params = {k.lower(): v[-1].lower() for k, v in query.items() if v}
    if scheme in ("postgres", "postgresql"):
        mode = params.get("sslmode")
        if mode in POSTGRES_TLS_MODES:
            return Encryption(True, f"TLS ({scheme}:// sslmode={mode})")
        if mode is None:
            return Encryption(False, f"plaintext ({scheme}:// without sslmode: TLS is not required)")
        return Encryption(False, f"plaintext ({scheme}:// sslmode={mode} does not require TLS)")
    if scheme == "mysql":
        mode = params.get("ssl-mode", params.get("sslmode", ""))
        if mode in ("required", "verify_ca", "verify_identity"):
            return Encryption(True, f"TLS (mysql:// ssl-mode={mode})")
        return Encryption(False, "plaintext (mysql:// without ssl-mode=REQUIRED)")
    if params.get("tls") == "true" or params.get("ssl") == "true":
        return Encryption(True, f"TLS ({scheme}:// with tls=true)")
    if scheme in TLS_SCHEMES:
        return Encryption(True, f"TLS ({scheme}:// scheme)")
    if scheme in PLAIN_SCHEMES or scheme in ("mongodb", "kafka", "nats"):
        return Encryption(False, f"plaintext ({scheme}:// scheme)")
    return Encryption(None, f"unknown ({scheme}:// scheme)")


def encryption_of_port(port: int | None, port_name: str | None, app_protocol: str | None) -> Encryption:
    for label in (app_protocol, port_name):
        if label and label.lower().split("-")[0] in TLS_PORT_NAMES:
            return Encryption(True, f"TLS (port named {label})")
    if port in TLS_PORTS:
        return Encryption(True, f"TLS (port {port} is a TLS port by convention; not observed)")
    return Encryption(None, "unknown (no scheme, TLS setting or TLS port)")


def classify(flow: Flow) -> FlowStatus:
    """Plaintext and non-FIPS flows are red; unknowns amber; validated-on-both-ends green."""
    if flow.encrypted is False:
        return "plaintext"
    verdicts: list[str] = []
    for end in (flow.client, flow.server):
        status = end.module.status
        if status.startswith("n/a"):
            continue
        if status.startswith("validated"):
            verdicts.append("historical" if status.endswith(("historical)", "revoked)")) else "ok")
        elif status == "unknown":
            verdicts.append("unknown")
        else:
            verdicts.append("non-fips")
    if flow.observed == "observed-non-fips" or "non-fips" in verdicts:
        return "non-fips"
    if flow.encrypted is None or "unknown" in verdicts:
        return "unverified"
    if "historical" in verdicts:
        return "fips-historical"
    return "fips"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class FlowBuilder:
    """Holds the indexes the derivation needs; `build()` returns the classified flows and notes."""

    def __init__(
        self,
        deployment: Deployment,
        overlay: Overlay,
        verify: dict[str, VerifyResult | None],
        today: date,
    ) -> None:
        self.deployment = deployment
        self.overlay = overlay
        self.verify = verify
        self.today = today
        self.notes: list[Note] = []
        self.drafts: dict[tuple[str, str, int | None], _Draft] = {}
        self.services: dict[tuple[str, str], Service] = {
            (s.namespace, s.name): s for s in deployment.services
        }
        self.externals = overlay.external_services
        self.ingress_hosts = {r.host for i in deployment.ingresses for r in i.routes if r.host}

    # endpoints ---------------------------------------------------------------------------------

    def container_endpoint(self, workload: Workload, container: Container) -> Endpoint:
        return Endpoint(
            label=f"{workload.key}:{container.name}",
            workload=workload.key,
            container=container.name,
            image=container.image,
            module=module_of(self.verify.get(container.image), self.today),
        )

    def external_endpoint(self, external: ExternalService) -> Endpoint:
        module = FipsModuleRef(name="unknown", status="unknown")
        if external.fips_module is not None:
            declared = external.fips_module
            cert = cmvp.find_certificate(declared.name, declared.version or "")
            if cert is None and declared.certificate:
                cert = cmvp.get_certificate(declared.certificate)
            status = (
                f"validated ({cert.certificate}, {cert.status_on(self.today)})"
                if cert
                else cmvp.NOT_VALIDATED
            )
            module = FipsModuleRef(
                name=declared.name,
                version=declared.version,
                certificate=cert.certificate if cert else declared.certificate,
                status=status,
            )
        return Endpoint(
            label=f"external:{external.name}",
            workload=None,
            container=None,
            image=None,
            inside_boundary=external.inside_boundary,
            module=module,
        )

    def internet(self) -> Endpoint:
        return Endpoint(
            label="internet",
            inside_boundary=False,
            module=FipsModuleRef(name="n/a", status="n/a (users outside the boundary)"),
        )

    # resolution --------------------------------------------------------------------------------

    def workloads_for(self, namespace: str, selector: dict[str, str]) -> list[Workload]:
        return [
            w
            for w in self.deployment.workloads
            if w.namespace == namespace and all(w.labels.get(k) == v for k, v in selector.items())
        ]

    def _server_container(self, workload: Workload, port: int | str | None) -> tuple[Container, int | None]:
        for container in workload.containers:
            for cport in container.ports:
                if port in (cport.port, cport.name):
                    return container, cport.port
        main = workload.containers[0]
        return main, port if isinstance(port, int) else None

    def service_targets(self, service: Service, port: int | None, ref: str) -> Iterator[_Target]:
        if service.external_name:
            yield from self.host_targets(service.external_name, port, service.namespace, None, ref)
            return
        sport = None
        if port is not None:
            sport = next((p for p in service.ports if p.port == port), None)
        elif len(service.ports) >= 1:
            sport = service.ports[0]
            if len(service.ports) > 1:
                self.notes.append(
                    Note(where=ref, message=f"no port given for {service.name}; assumed {sport.port}")
                )
        if port is not None and sport is None:
            self.notes.append(Note(where=ref, message=f"Service {service.name} has no port {port}"))
        backends = self.workloads_for(service.namespace, service.selector) if service.selector else []
        if not backends:
            self.notes.append(Note(where=ref, message=f"Service {service.name} selects no workload"))
        for workload in backends:
            target_port: int | str | None = sport.target_port or sport.port if sport else port
            container, _ = self._server_container(workload, target_port)
            yield _Target(
                endpoint=self.container_endpoint(workload, container),
                port=sport.port if sport else port,
                protocol=(sport.app_protocol or sport.name) if sport else None,
                kind="in-cluster",
                service=service,
            )

    def host_targets(
        self, host: str, port: int | None, namespace: str, workload: Workload | None, ref: str
    ) -> Iterator[_Target]:
        host = host.lower().rstrip(".")
        if host in IGNORED_HOSTS:
            return
        if host in LOCALHOSTS:
            if workload is not None and port is not None:
                for container in workload.containers:
                    if any(p.port == port for p in container.ports):
                        yield _Target(self.container_endpoint(workload, container), port, None, "intra-pod")
                        return
                self.notes.append(
                    Note(where=ref, message=f"localhost:{port} is not a port of any container in the pod")
                )
            return
        for external in self.externals:
            if host in (external.host.lower(), external.name.lower()):
                yield _Target(
                    self.external_endpoint(external),
                    port or external.port,
                    external.protocol,
                    "external",
                    external=external,
                )
                return
        parts = host.split(".")
        name = parts[0]
        ns = parts[1] if len(parts) > 1 and (len(parts) == 2 or parts[2] == "svc") else namespace
        service = self.services.get((ns, name))
        in_cluster = len(parts) == 1 or (len(parts) >= 3 and parts[2] == "svc") or len(parts) == 2
        if service is not None and in_cluster:
            yield from self.service_targets(service, port, ref)
            return
        if host in self.ingress_hosts or "." not in host:
            return
        undeclared = ExternalService(name=host, host=host, port=port)
        self.notes.append(
            Note(where=ref, message=f"{host} is not declared in the overlay; treated as external")
        )
        yield _Target(self.external_endpoint(undeclared), port, None, "external", external=undeclared)

    # drafts --------------------------------------------------------------------------------------

    def add(self, draft: _Draft) -> None:
        key = (draft.client.label, draft.server.label, draft.port)
        existing = self.drafts.get(key)
        if existing is None:
            self.drafts[key] = draft
            return
        existing.derived_from.extend(d for d in draft.derived_from if d not in existing.derived_from)
        if draft.authority > existing.authority:
            existing.encryption = draft.encryption
            existing.authority = draft.authority
            existing.protocol = draft.protocol if draft.protocol != "tcp" else existing.protocol

    def _tls_setting(self, target: _Target) -> Encryption | None:
        names = set()
        if target.service is not None:
            names = {target.service.name, f"{target.service.namespace}/{target.service.name}"}
        if target.external is not None:
            names = {target.external.name}
            if target.external.encrypted is not None:
                return Encryption(target.external.encrypted, target.external.by or "declared in overlay")
        for setting in self.overlay.tls:
            if setting.server in names and setting.port in (None, target.port):
                return Encryption(
                    setting.encrypted, setting.by or f"declared in overlay ({self.overlay.source})"
                )
        return None

    def _draft_for(
        self, client: Endpoint, target: _Target, scheme: tuple[str, str] | None, ref: str
    ) -> _Draft:
        setting = self._tls_setting(target)
        authority = 0
        if setting is not None:
            encryption, authority = setting, 2
        elif scheme is not None:
            encryption, authority = encryption_of_url(*scheme), 1
        else:
            sport = None
            if target.service is not None:
                sport = next((p for p in target.service.ports if p.port == target.port), None)
            encryption = encryption_of_port(
                target.port, sport.name if sport else None, sport.app_protocol if sport else None
            )
        protocol = (
            scheme[0].lower() if scheme else target.protocol or WELL_KNOWN_PORTS.get(target.port or 0, "tcp")
        )
        return _Draft(
            kind=target.kind,
            client=client,
            server=target.endpoint,
            protocol=protocol,
            port=target.port,
            encryption=encryption,
            derived_from=[ref],
            authority=authority,
        )

    def _container_values(self, container: Container) -> Iterator[tuple[str, str]]:
        for key, value in container.env.items():
            yield f"env {key}", value
        for index, arg in enumerate(container.args):
            yield f"args[{index}]", arg
        for key, value in container.config_values.items():
            yield f"configmap {key}", value

    def from_references(self) -> None:
        for workload in self.deployment.workloads:
            for container in workload.containers:
                client = self.container_endpoint(workload, container)
                own_ports = {p.port for p in container.ports}
                for what, value in self._container_values(container):
                    ref = (
                        f"{workload.where} {workload.kind} {workload.name} container {container.name} {what}"
                    )
                    for host, port, scheme in self._references(container, what, value):
                        if host.lower() in LOCALHOSTS and port in own_ports:
                            continue  # its own listen address
                        for target in self.host_targets(host, port, workload.namespace, workload, ref):
                            if target.endpoint.label == client.label:
                                continue
                            self.add(self._draft_for(client, target, scheme, ref))

    def _references(
        self, container: Container, what: str, value: str
    ) -> Iterator[tuple[str, int | None, tuple[str, str] | None]]:
        consumed: list[tuple[int, int]] = []
        for match in URL.finditer(value):
            consumed.append(match.span())
            port = int(match["port"]) if match["port"] else None
            yield (
                match["host"].strip("[]") if match["host"] == "[::1]" else match["host"],
                port,
                (
                    match["scheme"],
                    match["rest"],
                ),
            )
        for match in HOST_PORT.finditer(value):
            if any(start <= match.start() < end for start, end in consumed):
                continue
            yield match["host"], int(match["port"]), None
        stripped = value.strip()
        if not URL.search(stripped) and not HOST_PORT.search(stripped) and self._is_known_host(stripped):
            yield stripped, self._sibling_port(container, what), None

    def _is_known_host(self, value: str) -> bool:
        if not value or " " in value or "/" in value:
            return False
        lowered = value.lower()
        if lowered in LOCALHOSTS:
            return False  # a bare "localhost" without a port says nothing about which container
        first = lowered.split(".")[0]
        if any(first == name for (_, name) in self.services):
            return True
        return any(lowered in (e.host.lower(), e.name.lower()) for e in self.externals)

    def _sibling_port(self, container: Container, what: str) -> int | None:
        if not what.startswith("env "):
            return None
        key = what[4:]
        for suffix in ("_HOST", "_HOSTNAME", "_ADDR", "_SERVER", "HOST"):
            if key.endswith(suffix):
                value = container.env.get(
                    key[: -len(suffix)] + ("_PORT" if suffix.startswith("_") else "PORT")
                )
                if value and value.isdigit():
                    return int(value)
        return None

    def from_policies(self) -> None:
        for policy in self.deployment.policies:
            ref = f"{policy.where} NetworkPolicy {policy.name}"
            servers = self.workloads_for(policy.namespace, policy.pod_selector)
            for rule in policy.ingress:
                for peer in rule.peers:
                    for client_workload in self.workloads_for(peer.namespace, peer.pod_selector):
                        client = self.container_endpoint(client_workload, client_workload.containers[0])
                        for server_workload in servers:
                            if server_workload.key == client_workload.key:
                                continue
                            ports: list[int | str | None] = [*rule.ports] or [None]
                            for port in ports:
                                container, cport = self._server_container(server_workload, port)
                                self._policy_flow(client, server_workload, container, cport, ref)

    def _policy_flow(
        self, client: Endpoint, workload: Workload, container: Container, port: int | None, ref: str
    ) -> None:
        server = self.container_endpoint(workload, container)
        # already derived from a reference? then the policy only adds evidence
        for (client_label, server_label, _), draft in self.drafts.items():
            same_client = client_label.split(":")[0] == client.label.split(":")[0]
            if (
                same_client
                and server_label == server.label
                and (port is None or self._port_matches(draft, port))
            ):
                if ref not in draft.derived_from:
                    draft.derived_from.append(ref)
                return
        service = next(
            (
                s
                for s in self.deployment.services
                if s.namespace == workload.namespace
                and s.selector
                and all(workload.labels.get(k) == v for k, v in s.selector.items())
            ),
            None,
        )
        target = _Target(server, port, None, "in-cluster", service=service)
        self.add(self._draft_for(client, target, None, ref))

    def _port_matches(self, draft: _Draft, container_port: int) -> bool:
        if draft.port == container_port:
            return True
        for service in self.deployment.services:
            for sport in service.ports:
                if sport.port == draft.port and sport.target_port in (container_port, None):
                    return True
        return False

    def from_ingresses(self) -> None:
        for ingress in self.deployment.ingresses:
            for route in ingress.routes:
                service = self.services.get((ingress.namespace, route.service))
                ref = f"{ingress.where} Ingress {ingress.name}"
                if service is None:
                    self.notes.append(Note(where=ref, message=f"backend Service {route.service} not found"))
                    continue
                port = route.port if isinstance(route.port, int) else None
                if isinstance(route.port, str):
                    port = next((p.port for p in service.ports if p.name == route.port), None)
                for target in self.service_targets(service, port, ref):
                    encryption = (
                        Encryption(True, f"TLS terminated at Ingress {ingress.name}")
                        if route.tls
                        else Encryption(False, f"plaintext (Ingress {ingress.name} has no tls for this host)")
                    )
                    target.kind = "ingress"
                    draft = self._draft_for(self.internet(), target, None, ref)
                    draft.encryption, draft.authority = encryption, 1
                    draft.protocol = "https" if route.tls else "http"
                    self.add(draft)

    def from_overlay(self) -> None:
        for index, declared in enumerate(self.overlay.flows):
            line = self.overlay.lines.get(f"flows.{index}", 1)
            ref = f"{self.overlay.source}:{line} overlay flows[{index}]"
            client = self._declared_endpoint(declared.client, None, ref)
            server = self._declared_endpoint(declared.server, declared.port, ref)
            if client is None or server is None:
                continue
            kind: FlowKind = (
                "external" if not (client.inside_boundary and server.inside_boundary) else "in-cluster"
            )
            if client.workload and client.workload == server.workload:
                kind = "intra-pod"
            encryption = Encryption(declared.encrypted, declared.by or "declared in overlay")
            self.add(
                _Draft(kind, client, server, declared.protocol, declared.port, encryption, [ref], authority=2)
            )

    def _declared_endpoint(self, name: str, port: int | None, ref: str) -> Endpoint | None:
        if name == "internet":
            return self.internet()
        if name.startswith("external:"):
            wanted = name.split(":", 1)[1]
            external = next((e for e in self.externals if e.name == wanted), None)
            if external is None:
                self.notes.append(
                    Note(where=ref, message=f"{name} is not in external_services; flow skipped")
                )
                return None
            return self.external_endpoint(external)
        workload_key, _, container_name = name.partition(":")
        workload = next((w for w in self.deployment.workloads if w.key == workload_key), None)
        if workload is None:
            self.notes.append(Note(where=ref, message=f"workload {workload_key} not found; flow skipped"))
            return None
        if container_name:
            container = next((c for c in workload.containers if c.name == container_name), None)
            if container is None:
                self.notes.append(Note(where=ref, message=f"container {name} not found; flow skipped"))
                return None
        else:
            container, _ = self._server_container(workload, port)
        return self.container_endpoint(workload, container)

    def build(self, observed: dict[str, str] | None = None) -> list[Flow]:
        self.from_overlay()
        self.from_references()
        self.from_policies()
        self.from_ingresses()
        flows: list[Flow] = []
        seen: set[str] = set()
        for draft in sorted(
            self.drafts.values(), key=lambda d: (d.kind, d.client.label, d.server.label, d.port or 0)
        ):
            flow_id = _slug(f"{draft.client.label}--{draft.server.label}-{draft.port or ''}")
            while flow_id in seen:
                flow_id += "-x"
            seen.add(flow_id)
            flow = Flow(
                id=flow_id,
                kind=draft.kind,
                client=draft.client,
                server=draft.server,
                protocol=draft.protocol,
                port=draft.port,
                encrypted=draft.encryption.encrypted,
                encryption=draft.encryption.by,
                derived_from=draft.derived_from,
            )
            if observed:
                verdict = (
                    observed.get(flow_id)
                    or observed.get(f"{draft.server.label}:{draft.port}")
                    or observed.get(draft.server.label)
                )
                if verdict in ("observed-fips", "observed-non-fips"):
                    flow.observed = verdict  # type: ignore[assignment]
            flow.status = classify(flow)
            flows.append(flow)
        return flows


def derive_flows(
    deployment: Deployment,
    overlay: Overlay,
    verify: dict[str, VerifyResult | None],
    today: date,
    observed: dict[str, str] | None = None,
) -> tuple[list[Flow], list[Note]]:
    """Every flow of the deployment, classified, plus notes about references that did not resolve."""
    builder = FlowBuilder(deployment, overlay, verify, today)
    flows = builder.build(observed)
    return flows, builder.notes
