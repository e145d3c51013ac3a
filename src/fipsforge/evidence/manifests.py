"""Read Kubernetes manifests and docker-compose files into a `Deployment`, keeping file:line for everything.

Kinds fipsforge does not use are skipped with a note; malformed YAML and malformed objects are a
`FipsforgeError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from fipsforge.errors import FipsforgeError
from fipsforge.evidence.models import (
    Container,
    ContainerPort,
    Deployment,
    Ingress,
    IngressRoute,
    NetworkPolicy,
    Note,
    PolicyPeer,
    PolicyRule,
    Service,
    ServicePort,
    VolumeMount,
    Where,
    Workload,
)

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
USED_KINDS = WORKLOAD_KINDS | {"Service", "Ingress", "NetworkPolicy", "ConfigMap"}
YAML_SUFFIXES = (".yaml", ".yml")


class LineDict(dict[str, Any]):
    """A YAML mapping that remembers the line it started on."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_documents(path: Path) -> list[Any]:
    """All documents of a YAML file, mappings as `LineDict`; malformed YAML names file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FipsforgeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FipsforgeError(f"{path}: cannot read: {error}") from None
    try:
        return list(yaml.load_all(text, Loader=_LineLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise FipsforgeError(f"{path}:{line}: malformed YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise FipsforgeError(f"{path}: malformed YAML: {error}") from None


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories expanded to their YAML files, sorted, recursively."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise FipsforgeError(f"{path}: no such file or directory")
    return files


def _line(value: Any, default: int) -> int:
    return value.line if isinstance(value, LineDict) else default


class _Reader:
    """Typed access into one object, with errors that name the file, line and field."""

    def __init__(self, file: Path, obj: LineDict, what: str) -> None:
        self.file = file
        self.obj = obj
        self.what = what

    def fail(self, node: Any, message: str) -> FipsforgeError:
        return FipsforgeError(f"{self.file}:{_line(node, self.obj.line)}: {self.what}: {message}")

    def mapping(self, node: Any, key: str, field: str) -> LineDict:
        value = node.get(key) if isinstance(node, dict) else None
        if value is None:
            return LineDict()
        if not isinstance(value, dict):
            raise self.fail(node, f"{field} must be a mapping")
        return value if isinstance(value, LineDict) else LineDict(value)

    def seq(self, node: Any, key: str, field: str) -> list[Any]:
        value = node.get(key) if isinstance(node, dict) else None
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(node, f"{field} must be a list")
        return value

    def labels(self, node: Any, key: str, field: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.mapping(node, key, field).items()}


def _pod_template(reader: _Reader, kind: str) -> tuple[LineDict, dict[str, str]]:
    """(pod spec, pod labels) of a workload object."""
    spec = reader.mapping(reader.obj, "spec", "spec")
    if kind == "Pod":
        return spec, reader.labels(reader.mapping(reader.obj, "metadata", "metadata"), "labels", "labels")
    if kind == "CronJob":
        job = reader.mapping(spec, "jobTemplate", "spec.jobTemplate")
        spec = reader.mapping(job, "spec", "spec.jobTemplate.spec")
    template = reader.mapping(spec, "template", "spec.template")
    metadata = reader.mapping(template, "metadata", "spec.template.metadata")
    return reader.mapping(template, "spec", "spec.template.spec"), reader.labels(
        metadata, "labels", "spec.template.metadata.labels"
    )


def _container(
    reader: _Reader,
    raw: Any,
    sidecar: bool,
    config_maps: dict[tuple[str, str], dict[str, str]],
    namespace: str,
    volumes: dict[str, str],
) -> Container:
    if not isinstance(raw, dict):
        raise reader.fail(raw, "each container must be a mapping")
    name = raw.get("name")
    image = raw.get("image")
    if not isinstance(name, str) or not isinstance(image, str):
        raise reader.fail(raw, "a container needs a name and an image")
    ports = []
    for port in reader.seq(raw, "ports", f"container {name} ports"):
        if not isinstance(port, dict) or not isinstance(port.get("containerPort"), int):
            raise reader.fail(port, f"container {name}: ports[].containerPort must be a number")
        ports.append(
            ContainerPort(
                port=port["containerPort"], name=port.get("name"), protocol=str(port.get("protocol", "TCP"))
            )
        )
    env: dict[str, str] = {}
    config_values: dict[str, str] = {}
    for source in reader.seq(raw, "envFrom", f"container {name} envFrom"):
        ref = source.get("configMapRef") if isinstance(source, dict) else None
        if isinstance(ref, dict) and isinstance(ref.get("name"), str):
            for key, value in config_maps.get((namespace, ref["name"]), {}).items():
                env[key] = value
    for item in reader.seq(raw, "env", f"container {name} env"):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise reader.fail(item, f"container {name}: env[] entries need a name")
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        value_from = item.get("valueFrom")
        ref = value_from.get("configMapKeyRef") if isinstance(value_from, dict) else None
        if isinstance(ref, dict):
            found = config_maps.get((namespace, str(ref.get("name"))), {}).get(str(ref.get("key")))
            if found is not None:
                env[item["name"]] = found
    mounts: list[VolumeMount] = []
    for mount in reader.seq(raw, "volumeMounts", f"container {name} volumeMounts"):
        if not isinstance(mount, dict) or not isinstance(mount.get("mountPath"), str):
            raise reader.fail(mount, f"container {name}: volumeMounts[] entries need a mountPath")
        volume_name = str(mount.get("name"))
        source = volumes.get(volume_name, f"undeclared:{volume_name}")
        sub_path = str(mount.get("subPath") or "")
        mounts.append(
            VolumeMount(path=mount["mountPath"], source=source + (f" ({sub_path})" if sub_path else ""))
        )
        if source.startswith("configMap:"):
            for key, value in config_maps.get((namespace, source.removeprefix("configMap:")), {}).items():
                config_values[f"{volume_name}/{key}"] = value
    args = [str(a) for a in [*reader.seq(raw, "command", "command"), *reader.seq(raw, "args", "args")]]
    return Container(
        name=name,
        image=image,
        ports=ports,
        env=env,
        args=args,
        config_values=config_values,
        mounts=mounts,
        sidecar=sidecar,
    )


def _volume_source(volume: dict[str, Any]) -> str:
    """`configMap:NAME`, `hostPath:/dir`, `emptyDir`...: the volume's type and what it names."""
    for kind, spec in volume.items():
        if kind != "name" and isinstance(spec, dict):
            named = spec.get("name") or spec.get("path") or spec.get("claimName") or spec.get("secretName")
            return f"{kind}:{named}" if named else kind
    return "unknown"


def _workload(
    file: Path,
    obj: LineDict,
    kind: str,
    name: str,
    namespace: str,
    config_maps: dict[tuple[str, str], dict[str, str]],
) -> Workload:
    reader = _Reader(file, obj, f"{kind} {name}")
    pod, labels = _pod_template(reader, kind)
    volumes = {str(volume.get("name")): _volume_source(volume)
               for volume in reader.seq(pod, "volumes", "volumes") if isinstance(volume, dict)}  # fmt: skip
    containers: list[Container] = []
    raw_containers = reader.seq(pod, "containers", "pod spec containers")
    if not raw_containers:
        raise reader.fail(pod, "pod spec has no containers")
    for index, raw in enumerate(raw_containers):
        containers.append(_container(reader, raw, index > 0, config_maps, namespace, volumes))
    for raw in reader.seq(pod, "initContainers", "initContainers"):
        # native sidecars: init containers that keep running
        if isinstance(raw, dict) and raw.get("restartPolicy") == "Always":
            containers.append(_container(reader, raw, True, config_maps, namespace, volumes))
    return Workload(
        kind=kind,
        name=name,
        namespace=namespace,
        labels=labels,
        containers=containers,
        where=Where(file=str(file), line=obj.line),
    )


def _service(file: Path, obj: LineDict, name: str, namespace: str) -> Service:
    reader = _Reader(file, obj, f"Service {name}")
    spec = reader.mapping(obj, "spec", "spec")
    ports = []
    for port in reader.seq(spec, "ports", "spec.ports"):
        if not isinstance(port, dict) or not isinstance(port.get("port"), int):
            raise reader.fail(port, "spec.ports[].port must be a number")
        ports.append(
            ServicePort(
                port=port["port"],
                target_port=port.get("targetPort"),
                name=port.get("name"),
                protocol=str(port.get("protocol", "TCP")),
                app_protocol=port.get("appProtocol"),
            )
        )
    external = spec.get("externalName") if spec.get("type") == "ExternalName" else None
    return Service(
        name=name,
        namespace=namespace,
        selector=reader.labels(spec, "selector", "spec.selector"),
        ports=ports,
        external_name=str(external) if external else None,
        where=Where(file=str(file), line=obj.line),
    )


def _ingress(file: Path, obj: LineDict, name: str, namespace: str) -> Ingress:
    reader = _Reader(file, obj, f"Ingress {name}")
    spec = reader.mapping(obj, "spec", "spec")
    tls_hosts: set[str] = set()
    tls_any = False
    for tls in reader.seq(spec, "tls", "spec.tls"):
        tls_any = True
        tls_hosts.update(str(h) for h in reader.seq(tls, "hosts", "spec.tls[].hosts"))
    routes: list[IngressRoute] = []

    def backend(node: Any, host: str | None) -> None:
        service = reader.mapping(node, "service", "backend.service")
        if not service.get("name"):
            return
        port = reader.mapping(service, "port", "backend.service.port")
        routes.append(
            IngressRoute(
                host=host,
                service=str(service["name"]),
                port=port.get("number", port.get("name")),
                tls=(host in tls_hosts) if host else tls_any,
            )
        )

    if spec.get("defaultBackend"):
        backend(spec["defaultBackend"], None)
    for rule in reader.seq(spec, "rules", "spec.rules"):
        host = rule.get("host") if isinstance(rule, dict) else None
        http = reader.mapping(rule, "http", "rules[].http")
        for path in reader.seq(http, "paths", "rules[].http.paths"):
            backend(reader.mapping(path, "backend", "paths[].backend"), host)
    return Ingress(name=name, namespace=namespace, routes=routes, where=Where(file=str(file), line=obj.line))


def _policy(file: Path, obj: LineDict, name: str, namespace: str) -> NetworkPolicy:
    reader = _Reader(file, obj, f"NetworkPolicy {name}")
    spec = reader.mapping(obj, "spec", "spec")
    target = reader.labels(
        reader.mapping(spec, "podSelector", "spec.podSelector"), "matchLabels", "matchLabels"
    )
    rules: list[PolicyRule] = []
    for rule in reader.seq(spec, "ingress", "spec.ingress"):
        peers = []
        for peer in reader.seq(rule, "from", "spec.ingress[].from"):
            selector = reader.mapping(peer, "podSelector", "from[].podSelector")
            if selector or "podSelector" in peer:
                peers.append(
                    PolicyPeer(
                        pod_selector=reader.labels(selector, "matchLabels", "matchLabels"),
                        namespace=namespace,
                    )
                )
        ports = [
            p.get("port") for p in reader.seq(rule, "ports", "ports") if isinstance(p, dict) and p.get("port")
        ]
        rules.append(PolicyRule(peers=peers, ports=ports))
    return NetworkPolicy(
        name=name,
        namespace=namespace,
        pod_selector=target,
        ingress=rules,
        where=Where(file=str(file), line=obj.line),
    )


def _is_compose(doc: Any) -> bool:
    return isinstance(doc, dict) and "kind" not in doc and isinstance(doc.get("services"), dict)


def _compose(file: Path, doc: LineDict, deployment: Deployment) -> None:
    project = str(doc.get("name") or file.parent.name or "compose")
    for name, raw in doc["services"].items():
        reader = _Reader(file, raw if isinstance(raw, LineDict) else doc, f"compose service {name}")
        if not isinstance(raw, dict) or not isinstance(raw.get("image"), str):
            raise reader.fail(raw, "needs an image")
        env_raw = raw.get("environment") or {}
        env: dict[str, str] = {}
        if isinstance(env_raw, dict):
            env = {str(k): str(v) for k, v in env_raw.items() if v is not None}
        elif isinstance(env_raw, list):
            env = dict(str(item).split("=", 1) for item in env_raw if "=" in str(item))
        else:
            raise reader.fail(raw, "environment must be a mapping or a list")
        command = raw.get("command") or []
        args = command.split() if isinstance(command, str) else [str(c) for c in command]
        container_ports: list[int] = []
        for spec in [*reader.seq(raw, "ports", "ports"), *reader.seq(raw, "expose", "expose")]:
            target = spec.get("target") if isinstance(spec, dict) else str(spec).split("/")[0].split(":")[-1]
            try:
                container_ports.append(int(str(target)))
            except ValueError:
                raise reader.fail(raw, f"cannot read port {spec!r}") from None
        mounts = [_compose_mount(reader, raw, spec) for spec in reader.seq(raw, "volumes", "volumes")]
        labels = {"compose.service": str(name)}
        deployment.workloads.append(
            Workload(
                kind="ComposeService",
                name=str(name),
                namespace=project,
                labels=labels,
                containers=[
                    Container(
                        name=str(name),
                        image=raw["image"],
                        ports=[ContainerPort(port=p) for p in container_ports],
                        env=env,
                        args=args,
                        mounts=mounts,
                    )
                ],
                where=Where(file=str(file), line=_line(raw, doc.line)),
            )
        )
        if container_ports:
            deployment.services.append(
                Service(
                    name=str(name),
                    namespace=project,
                    selector=labels,
                    ports=[ServicePort(port=p, target_port=p) for p in sorted(set(container_ports))],
                    where=Where(file=str(file), line=_line(raw, doc.line)),
                )
            )


def _compose_mount(reader: _Reader, raw: Any, spec: Any) -> VolumeMount:
    """A compose `volumes:` entry, short (`SRC:DST[:MODE]`) or long (`{type, source, target}`)."""
    if isinstance(spec, dict) and isinstance(spec.get("target"), str):
        kind = str(spec.get("type", "volume"))
        return VolumeMount(path=spec["target"], source=f"{kind}:{spec.get('source', '')}".rstrip(":"))
    parts = str(spec).split(":")
    if isinstance(spec, str) and len(parts) == 1:
        return VolumeMount(path=parts[0], source="volume")
    if isinstance(spec, str) and len(parts) in (2, 3):
        kind = "bind" if parts[0].startswith((".", "/", "~")) else "volume"
        return VolumeMount(path=parts[1], source=f"{kind}:{parts[0]}")
    raise reader.fail(raw, f"cannot read volume {spec!r}")


def _objects(files: list[Path]) -> Iterator[tuple[Path, Any]]:
    """Each document of each file; the items of a `kind: List` (as `kubectl get -o yaml` writes) one by one."""
    for file in files:
        for doc in load_yaml_documents(file):
            if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                yield from ((file, item) for item in doc["items"] if item is not None)
            elif doc is not None:
                yield file, doc


def read_deployment(paths: Iterable[Path]) -> Deployment:
    """Read manifests (files or directories) and compose files into one `Deployment`."""
    deployment = Deployment()
    documents = list(_objects(expand_inputs(paths)))
    config_maps: dict[tuple[str, str], dict[str, str]] = {}
    pending: list[tuple[Path, LineDict, str, str, str]] = []
    for file, doc in documents:
        if _is_compose(doc):
            _compose(file, doc, deployment)
            continue
        line = _line(doc, 1)
        if not isinstance(doc, LineDict) or not isinstance(doc.get("kind"), str):
            deployment.notes.append(Note(where=f"{file}:{line}", message="not a Kubernetes object, skipped"))
            continue
        kind = doc["kind"]
        raw_metadata = doc.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        name = str(metadata.get("name", ""))
        namespace = str(metadata.get("namespace") or "default")
        if kind not in USED_KINDS:
            deployment.notes.append(
                Note(
                    where=f"{file}:{line}", message=f"kind {kind} ({name or 'unnamed'}) is not used, skipped"
                )
            )
            continue
        if not name:
            raise FipsforgeError(f"{file}:{line}: {kind} has no metadata.name")
        if kind == "ConfigMap":
            data = doc.get("data") or {}
            if not isinstance(data, dict):
                raise FipsforgeError(f"{file}:{line}: ConfigMap {name}: data must be a mapping")
            config_maps[(namespace, name)] = {str(k): str(v) for k, v in data.items()}
            continue
        pending.append((file, doc, kind, name, namespace))
    for file, doc, kind, name, namespace in pending:
        if kind in WORKLOAD_KINDS:
            deployment.workloads.append(_workload(file, doc, kind, name, namespace, config_maps))
        elif kind == "Service":
            deployment.services.append(_service(file, doc, name, namespace))
        elif kind == "Ingress":
            deployment.ingresses.append(_ingress(file, doc, name, namespace))
        elif kind == "NetworkPolicy":
            deployment.policies.append(_policy(file, doc, name, namespace))
    return deployment
