"""Data the evidence pipeline passes between its steps: the deployment, its flows, the verdicts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FlowStatus = Literal["fips", "fips-historical", "unverified", "non-fips", "plaintext"]
FlowKind = Literal["intra-pod", "in-cluster", "external", "ingress"]
Observed = Literal["observed-fips", "observed-non-fips", "not-observed"]


class Where(BaseModel):
    """A place in an input file, for messages and for the evidence trail."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Note(BaseModel):
    """Something the user should know that is not an error: a skipped kind, an unknown image."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ContainerPort(BaseModel):
    port: int
    name: str | None = None
    protocol: str = "TCP"


class VolumeMount(BaseModel):
    """A volume mounted into a container: where, and what it holds."""

    path: str
    source: str
    """`configMap:NAME`, `secret:NAME`, `hostPath:/dir`, `emptyDir`, `bind:./dir` (compose), ..."""


class Container(BaseModel):
    name: str
    image: str
    ports: list[ContainerPort] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)
    config_values: dict[str, str] = Field(default_factory=dict)
    """Values of ConfigMaps the container reads (envFrom, configMapKeyRef, mounted volumes)."""
    mounts: list[VolumeMount] = Field(default_factory=list)
    sidecar: bool = False


class Workload(BaseModel):
    """A pod template: a Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod or compose service."""

    kind: str
    name: str
    namespace: str
    labels: dict[str, str] = Field(default_factory=dict)
    containers: list[Container]
    where: Where

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class ServicePort(BaseModel):
    port: int
    target_port: int | str | None = None
    name: str | None = None
    protocol: str = "TCP"
    app_protocol: str | None = None


class Service(BaseModel):
    name: str
    namespace: str
    selector: dict[str, str] = Field(default_factory=dict)
    ports: list[ServicePort] = Field(default_factory=list)
    external_name: str | None = None
    where: Where


class IngressRoute(BaseModel):
    host: str | None
    service: str
    port: int | str | None
    tls: bool


class Ingress(BaseModel):
    name: str
    namespace: str
    routes: list[IngressRoute]
    where: Where


class PolicyPeer(BaseModel):
    """One `from` entry of a NetworkPolicy ingress rule, reduced to a pod selector."""

    pod_selector: dict[str, str]
    namespace: str


class PolicyRule(BaseModel):
    peers: list[PolicyPeer]
    ports: list[int | str]


class NetworkPolicy(BaseModel):
    name: str
    namespace: str
    pod_selector: dict[str, str]
    ingress: list[PolicyRule]
    where: Where


class Deployment(BaseModel):
    """Everything read from the manifests and compose files."""

    workloads: list[Workload] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    ingresses: list[Ingress] = Field(default_factory=list)
    policies: list[NetworkPolicy] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)


class FipsModuleRef(BaseModel):
    """The FIPS module one end of a flow uses, with its CMVP verdict."""

    name: str
    version: str | None = None
    certificate: str | None = None
    status: str = "unknown"
    """`validated (#4985, active)`, `FIPS-capable, not validated`, `none`, `unknown`."""

    def label(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.name}{version}"


class Endpoint(BaseModel):
    """One end of a flow."""

    label: str
    """`shop/api:api` for a container, `external:idp` for an external service, `internet`."""
    workload: str | None = None
    container: str | None = None
    image: str | None = None
    inside_boundary: bool = True
    module: FipsModuleRef


class Flow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: FlowKind
    client: Endpoint
    server: Endpoint
    protocol: str
    port: int | None
    encrypted: bool | None
    encryption: str
    """How it is encrypted or why it is not: `TLS (rediss:// scheme)`, `plaintext (redis:// scheme)`."""
    status: FlowStatus = "unverified"
    observed: Observed = "not-observed"
    derived_from: list[str] = Field(default_factory=list)
    """Evidence trail: `manifests.yaml:42 env API_URL`, `overlay.yaml:10 flows[0]`."""
