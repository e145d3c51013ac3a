"""Manifests, compose files and the overlay → flows, with file:line errors and notes."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.evidence import verifyresult
from fipsforge.evidence.flows import derive_flows, encryption_of_url
from fipsforge.evidence.manifests import read_deployment
from fipsforge.evidence.models import Flow
from fipsforge.evidence.overlay import Overlay, read_overlay
from fipsforge.evidence.verifyresult import VerifyResult, load_verify_results, module_of, resolve_images

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "deployment"
TODAY = date(2026, 11, 27)


def derive(k8s: Path, overlay: Path | None = EXAMPLE / "overlay.yaml") -> tuple[list[Flow], list[str]]:
    deployment = read_deployment([k8s])
    results = load_verify_results(sorted((EXAMPLE / "verify").glob("*.json")))
    images = [c.image for w in deployment.workloads for c in w.containers]
    verify, verify_notes = resolve_images(images, results, allow_run=False)
    flows, notes = derive_flows(deployment, read_overlay(overlay) if overlay else Overlay(), verify, TODAY)
    return flows, [str(n) for n in [*deployment.notes, *verify_notes, *notes]]


def table(flows: list[Flow]) -> set[tuple[str, str, str, int | None, str]]:
    return {(f.kind, f.client.label, f.server.label, f.port, f.status) for f in flows}


@pytest.fixture
def k8s_copy(tmp_path: Path) -> Path:
    target = tmp_path / "k8s"
    shutil.copytree(EXAMPLE / "k8s", target)
    return target


def test_sample_flows_are_derived() -> None:
    flows, notes = derive(EXAMPLE / "k8s")
    assert table(flows) == {
        ("intra-pod", "shop/web:tls-proxy", "shop/web:web", 8080, "fips"),
        ("in-cluster", "shop/web:web", "shop/api:api", 8443, "fips"),
        ("in-cluster", "shop/api:api", "shop/postgres:postgres", 5432, "fips-historical"),
        ("in-cluster", "shop/api:api", "shop/redis:redis", 6379, "plaintext"),
        ("in-cluster", "shop/db-migrate:migrate", "shop/postgres:postgres", 5432, "unverified"),
        ("external", "shop/api:api", "external:idp", 443, "unverified"),
        ("ingress", "internet", "shop/web:tls-proxy", 443, "fips"),
    }
    by_server = {(f.client.label, f.server.label): f for f in flows}
    redis = by_server[("shop/api:api", "shop/redis:redis")]
    assert redis.encrypted is False and "redis://" in redis.encryption
    assert redis.server.module.status == "none"
    assert redis.client.module.status == "validated (#4985, active)"
    # the NetworkPolicy confirms the reference-derived flow rather than adding a second one
    assert any("NetworkPolicy redis-from-api" in d for d in redis.derived_from)
    assert any("env REDIS_URL" in d for d in redis.derived_from)
    postgres = by_server[("shop/api:api", "shop/postgres:postgres")]
    assert postgres.server.module.certificate == "#4856"
    assert "postgresql.conf" in postgres.encryption  # the overlay TLS setting wins over the URL
    # notes: the skipped kind with its file and line, the image without a verify result
    assert any(n.endswith("00-namespace.yaml:4: kind Namespace (shop) is not used, skipped") for n in notes)
    assert any("registry.example.com/shop/migrate:3.2.1: no verify result" in n for n in notes)


def test_negative_controls_change_the_flows(k8s_copy: Path) -> None:
    api = k8s_copy / "api.yaml"
    api.write_text(api.read_text().replace("redis://redis:6379/0", "rediss://redis:6379/0"))
    web = k8s_copy / "web.yaml"
    web.write_text(
        web.read_text().replace('"--upstream=https://localhost:8080"', '"--upstream=https://api:8443"')
    )
    flows, _ = derive(k8s_copy)
    assert not [f for f in flows if f.status == "plaintext"]
    assert not [f for f in flows if f.kind == "intra-pod"]
    tls_redis = next(f for f in flows if f.server.label == "shop/redis:redis")
    assert tls_redis.encrypted is True and tls_redis.status == "non-fips"  # TLS, but no FIPS module


def test_plaintext_intra_pod_flow_is_plaintext(k8s_copy: Path) -> None:
    web = k8s_copy / "web.yaml"
    web.write_text(web.read_text().replace("https://localhost:8080", "http://localhost:8080"))
    flows, _ = derive(k8s_copy)
    intra = next(f for f in flows if f.kind == "intra-pod")
    assert intra.status == "plaintext"


def test_compose_file() -> None:
    flows, notes = derive(EXAMPLE / "compose" / "docker-compose.yaml", overlay=None)
    assert table(flows) == {
        ("in-cluster", "shop-local/web:web", "shop-local/api:api", 8443, "fips"),
        ("in-cluster", "shop-local/api:api", "shop-local/postgres:postgres", 5432, "fips-historical"),
        ("in-cluster", "shop-local/api:api", "shop-local/redis:redis", 6379, "plaintext"),
    }
    assert notes == []


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n  namespace: x\n")
    with pytest.raises(FipsforgeError, match=r"bad\.yaml:5: malformed YAML"):
        read_deployment([bad])


def test_malformed_object_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: nope\n")
    with pytest.raises(FipsforgeError, match=r"bad\.yaml:\d+: Pod p: pod spec containers must be a list"):
        read_deployment([bad])


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError, match=r"nothing\.yaml: no such file or directory"):
        read_deployment([tmp_path / "nothing.yaml"])


def test_overlay_errors_name_the_line(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("external_services:\n  - name: idp\n    host: idp.example.com\n    colour: blue\n")
    with pytest.raises(FipsforgeError, match=r"overlay\.yaml:2: overlay external_services\.0\.colour"):
        read_overlay(overlay)


def test_image_without_verify_result_runs_verify_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_run(image: str) -> VerifyResult:
        calls.append(image)
        return VerifyResult(image=image, fips_modules=[], verdict="fail")

    monkeypatch.setattr(verifyresult, "verify_available", lambda: True)
    monkeypatch.setattr(verifyresult, "run_verify", fake_run)
    resolved, notes = resolve_images(["a:1"], [], allow_run=True)
    assert calls == ["a:1"] and resolved["a:1"] is not None and notes == []
    assert module_of(resolved["a:1"], TODAY).status == "none"

    # negative control: verify not installed → unknown, with a note, and nothing runs
    monkeypatch.setattr(verifyresult, "verify_available", lambda: False)
    resolved, notes = resolve_images(["b:1"], [], allow_run=True)
    assert resolved["b:1"] is None and calls == ["a:1"]
    assert "fipsforge verify command is not available" in str(notes[0])
    assert module_of(None, TODAY).status == "unknown"


def test_verify_json_is_read_tolerantly(tmp_path: Path) -> None:
    result = tmp_path / "v.json"
    result.write_text(
        '{"image": "x:1", "fips_modules": [{"name": "OpenSSL FIPS Provider", "version": "3.5.4",'
        ' "future_field": 1}], "verdict": "pass", "new_top_level": true}'
    )
    (loaded,) = load_verify_results([result])
    assert module_of(loaded, TODAY).status == "FIPS-capable, not validated"
    result.write_text('{"image": "x:1",\n "fips_modules": [}')
    with pytest.raises(FipsforgeError, match=r"v\.json:2: malformed verify JSON"):
        load_verify_results([result])


@pytest.mark.parametrize(
    ("url", "encrypted"),
    [
        ("postgresql://h/db?sslmode=verify-full", True),
        ("postgresql://h/db?sslmode=prefer", False),
        ("postgresql://h/db", False),
        ("rediss://h:6379", True),
        ("redis://h:6379", False),
        ("https://h", True),
        ("http://h", False),
        ("mongodb://h/?tls=true", True),
        ("foo://h", None),
    ],
)
def test_url_encryption(url: str, encrypted: bool | None) -> None:
    scheme, rest = url.split("://", 1)
    assert encryption_of_url(scheme, rest).encrypted is encrypted


def test_configmap_files_policies_and_declared_flows(tmp_path: Path) -> None:
    manifests = tmp_path / "app.yaml"
    manifests.write_text(
        """\
apiVersion: v1
kind: ConfigMap
metadata: {name: proxy-conf, namespace: app}
data:
  nginx.conf: |
    upstream backend { server backend.app.svc.cluster.local:9000; }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: proxy, namespace: app}
spec:
  template:
    metadata: {labels: {app: proxy}}
    spec:
      volumes: [{name: conf, configMap: {name: proxy-conf}}]
      containers:
        - name: nginx
          image: nginx:1
          volumeMounts: [{name: conf, mountPath: /etc/nginx}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: app}
spec:
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers: [{name: backend, image: backend:1, ports: [{containerPort: 9000}, {containerPort: 9443}]}]
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: app}
spec:
  selector: {app: backend}
  ports: [{port: 9000}, {port: 9443, name: https}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: app}
spec:
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers: [{name: worker, image: worker:1}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: backend-from-worker, namespace: app}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: worker}}}]
      ports: [{port: 9443}]
"""
    )
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        """\
external_services:
  - {name: queue, host: queue.example.net, port: 5671, encrypted: true, by: "AMQPS (provider policy)"}
flows:
  - {client: app/worker, server: "external:queue", port: 5671, protocol: amqps, encrypted: true}
"""
    )
    flows, notes = derive(manifests, overlay)
    got = {(f.client.label, f.server.label, f.port): f for f in flows}
    # a host:port inside a mounted ConfigMap file
    from_file = got[("app/proxy:nginx", "app/backend:backend", 9000)]
    assert from_file.encrypted is None and "configmap conf/nginx.conf" in from_file.derived_from[0]
    # a NetworkPolicy alone yields a flow; the port named https makes it TLS by convention
    policy = got[("app/worker:worker", "app/backend:backend", 9443)]
    assert policy.encrypted is True and "NetworkPolicy backend-from-worker" in policy.derived_from[0]
    # a flow declared in the overlay, with its line
    declared = got[("app/worker:worker", "external:queue", 5671)]
    assert declared.kind == "external" and declared.derived_from == [f"{overlay}:4 overlay flows[0]"]
    assert len(flows) == 3
    assert any("nginx:1: no verify result" in n for n in notes)


def test_kubectl_list_output_is_read(tmp_path: Path) -> None:
    documents = [d for f in sorted((EXAMPLE / "k8s").glob("*.yaml")) for d in f.read_text().split("\n---\n")]
    items = "\n".join(
        "  - " + "\n    ".join(line for line in doc.splitlines() if not line.startswith("#"))
        for doc in documents
    )
    (tmp_path / "all.yaml").write_text(f"apiVersion: v1\nkind: List\nitems:\n{items}\n")
    flows, notes = derive(tmp_path / "all.yaml")
    assert table(flows) == table(derive(EXAMPLE / "k8s")[0])
    assert any("all.yaml:" in n and "kind Namespace (shop) is not used" in n for n in notes)


@pytest.mark.skipif(
    not verifyresult.verify_available(), reason="the fipsforge verify command is not installed"
)
def test_image_without_a_result_is_verified_for_real(tmp_path: Path) -> None:
    """End to end: evidence runs `fipsforge verify` on a local OCI layout that has no FIPS module."""
    from oci_fixtures import Entry, layer, write_layout

    write_layout(tmp_path / "plain", [layer([Entry("etc/os-release", data=b"ID=debian\n")])])
    image = f"oci:{tmp_path / 'plain'}"
    resolved, notes = resolve_images([image], [], allow_run=True)
    assert notes == [] and resolved[image] is not None
    assert resolved[image].verdict == "fail" and resolved[image].fips_modules == []
    assert module_of(resolved[image], TODAY).status == "none"
    # negative control: a layout that does not exist → verify fails → the image is unknown, with a note
    missing = f"oci:{tmp_path / 'missing'}"
    resolved, notes = resolve_images([missing], [], allow_run=True)
    assert resolved[missing] is None and "verify did not complete" in str(notes[0])
