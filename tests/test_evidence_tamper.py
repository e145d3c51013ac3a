"""`fipsforge evidence` flags workloads that override their images' FIPS configuration, under CM-6 and SC-13."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fipsforge.evidence.build import EvidenceOptions, gather, run
from fipsforge.evidence.manifests import read_deployment
from fipsforge.evidence.overrides import config_overrides

GENERATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

OPENSSL_CONF_SET = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: fipsforge/python:3.13
          env:
            - {name: OPENSSL_CONF, value: /etc/app/openssl.cnf}
            - {name: LANG, value: C.UTF-8}
"""
SSL_DIR_MOUNTED = """
apiVersion: v1
kind: ConfigMap
metadata: {name: stock-ssl, namespace: shop}
data:
  openssl.cnf: |
    openssl_conf = openssl_init
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: shop}
spec:
  template:
    spec:
      volumes:
        - name: ssl
          configMap: {name: stock-ssl}
        - name: ca
          configMap: {name: stock-ssl}
      containers:
        - name: worker
          image: fipsforge/python:3.13
          volumeMounts:
            - {name: ssl, mountPath: /usr/lib/ssl}
            - {name: ca, mountPath: /etc/ssl/certs}
"""
# the negative control: nothing here changes which crypto runs
CLEAN = """
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: shop}
data:
  settings.ini: "mode = production"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      volumes:
        - {name: ca, configMap: {name: app}}
        - {name: conf, configMap: {name: app}}
      containers:
        - name: web
          image: fipsforge/python:3.13
          args: ["--port", "8443"]
          env:
            - {name: OPENSSL_FOO, value: "1"}
            - {name: GODEBUG, value: "http2client=0"}
            - {name: JAVA_TOOL_OPTIONS, value: "-Xmx512m"}
          volumeMounts:
            - {name: ca, mountPath: /etc/ssl/certs}
            - {name: conf, mountPath: /etc/app}
"""
# the other settings, in env, args, a ConfigMap read through envFrom and one mounted as a file
OTHERS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: go-env, namespace: ops}
data:
  GODEBUG: "fips140=off,http2client=0"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: jvm, namespace: ops}
data:
  jvm.options: "-Djava.security.properties==/etc/jvm/no-fips.security"
---
apiVersion: batch/v1
kind: Job
metadata: {name: batch, namespace: ops}
spec:
  template:
    spec:
      volumes: [{name: jvm, configMap: {name: jvm}}, {name: mods, hostPath: {path: /opt/modules}}]
      containers:
        - name: go
          image: example/go-tool:1
          envFrom: [{configMapRef: {name: go-env}}]
        - name: java
          image: example/java-app:1
          env: [{name: JAVA_TOOL_OPTIONS, value: "-Djava.security.properties=/etc/jvm/no-fips.security"}]
          volumeMounts: [{name: jvm, mountPath: /etc/jvm}]
        - name: node
          image: example/node-app:1
          args: ["node", "--openssl-config=/tmp/other.cnf", "server.js"]
        - name: modules
          image: example/c-app:1
          command: ["sh", "-c", "OPENSSL_ia32cap=0 exec /app"]
          volumeMounts: [{name: mods, mountPath: /usr/lib/x86_64-linux-gnu/ossl-modules}]
"""
COMPOSE = """
services:
  api:
    image: fipsforge/python:3.13
    environment: ["OPENSSL_MODULES=/opt/other"]
    volumes: ["./ssl:/etc/ssl:ro", "./ca:/etc/ssl/certs:ro", {type: bind, source: ./data, target: /data}]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _settings(tmp_path: Path, name: str, text: str) -> list[tuple[str, str, str]]:
    found = config_overrides(read_deployment([_write(tmp_path, name, text)]))
    return [(f"{o.workload}:{o.container}", o.found_in, o.setting) for o in found]


def test_openssl_conf_and_a_mount_over_the_ssl_directory_are_flagged(tmp_path: Path) -> None:
    assert _settings(tmp_path, "conf.yaml", OPENSSL_CONF_SET) == [
        ("shop/api:api", "env OPENSSL_CONF", "OPENSSL_CONF=/etc/app/openssl.cnf")
    ]
    # the CA bundle under /etc/ssl/certs does not change which crypto runs: only /usr/lib/ssl is flagged
    assert _settings(tmp_path, "mount.yaml", SSL_DIR_MOUNTED) == [
        ("shop/worker:worker", "volume /usr/lib/ssl", "configMap:stock-ssl mounted at /usr/lib/ssl")
    ]
    assert _settings(tmp_path, "clean.yaml", CLEAN) == []


def test_every_kind_of_override_in_env_args_and_configmaps(tmp_path: Path) -> None:
    found = _settings(tmp_path, "others.yaml", OTHERS)
    assert found == [
        ("ops/batch:go", "env GODEBUG", "GODEBUG=fips140=off,http2client=0"),
        ("ops/batch:java", "env JAVA_TOOL_OPTIONS", "-Djava.security.properties=/etc/jvm/no-fips.security"),
        ("ops/batch:java", "ConfigMap jvm/jvm.options", "-Djava.security.properties==/etc/jvm/no-fips.security"),
        ("ops/batch:node", "args", "--openssl-config=/tmp/other.cnf"),
        ("ops/batch:modules", "args", "OPENSSL_ia32cap"),
        ("ops/batch:modules", "volume /usr/lib/x86_64-linux-gnu/ossl-modules",
         "hostPath:/opt/modules mounted at /usr/lib/x86_64-linux-gnu/ossl-modules"),
    ]  # fmt: skip
    compose = _settings(tmp_path, "compose.yaml", COMPOSE)
    assert compose == [
        (f"{tmp_path.name}/api:api", "env OPENSSL_MODULES", "OPENSSL_MODULES=/opt/other"),
        (f"{tmp_path.name}/api:api", "volume /etc/ssl", "bind:./ssl mounted at /etc/ssl"),
    ]


def _evidence_options(manifests: list[Path]) -> EvidenceOptions:
    return EvidenceOptions(manifests=manifests, run_verify=False, today=date(2026, 11, 27))


@pytest.fixture(scope="module")
def trestle_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("trestle")
    trestle = Path(sys.executable).parent / "trestle"
    subprocess.run([str(trestle), "init"], cwd=workspace, capture_output=True, check=True)
    return workspace


def _requirements(out: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((out / "component-definition.json").read_text())["component-definition"]
    requirements = doc["components"][0]["control-implementations"][0]["implemented-requirements"]
    return {r["control-id"]: r for r in requirements}


def _trestle_valid(workspace: Path, document: Path, name: str) -> bool:
    target = workspace / "component-definitions" / name / "component-definition.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(document.read_bytes())
    trestle = Path(sys.executable).parent / "trestle"
    done = subprocess.run([str(trestle), "validate", "-f", str(target)], cwd=workspace,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.returncode == 0 and "VALID" in done.stdout


def test_findings_map_to_cm6_and_sc13_in_valid_oscal(tmp_path: Path, trestle_workspace: Path) -> None:
    flagged = [
        _write(tmp_path, "conf.yaml", OPENSSL_CONF_SET),
        _write(tmp_path, "mount.yaml", SSL_DIR_MOUNTED),
    ]
    evidence = gather(_evidence_options(flagged))
    tamper = [f for f in evidence.findings if f.controls]
    assert [(f.severity, f.controls, f.subject.split(" ")[0]) for f in tamper] == [
        ("high", ["cm-6", "sc-13"], "shop/api:api"),
        ("high", ["cm-6", "sc-13"], "shop/worker:worker"),
    ]
    assert "conf.yaml:2" in tamper[0].subject and "env OPENSSL_CONF" in tamper[0].message
    out = tmp_path / "out"
    run(_evidence_options(flagged), out, generated=GENERATED)
    assert _trestle_valid(trestle_workspace, out / "component-definition.json", "flagged")
    requirements = _requirements(out)
    for control in ("cm-6", "sc-13"):
        props = requirements[control]["props"]
        assert isinstance(props, list)
        overrides = [p["value"] for p in props if p["name"] == "fips-config-override"]
        assert overrides == [
            "shop/api:api env OPENSSL_CONF: OPENSSL_CONF=/etc/app/openssl.cnf",
            "shop/worker:worker volume /usr/lib/ssl: configMap:stock-ssl mounted at /usr/lib/ssl",
        ]
        assert {"name": "implementation-status", "value": "implemented"} not in props
        assert "OPENSSL_CONF=/etc/app/openssl.cnf" in str(requirements[control]["description"])
    assert not [p for p in requirements["sc-8"]["props"] if p["name"] == "fips-config-override"]  # type: ignore[union-attr]

    # negative control: the clean deployment has no such finding or property, and is just as valid
    clean_out = tmp_path / "clean-out"
    run(_evidence_options([_write(tmp_path, "clean.yaml", CLEAN)]), clean_out, generated=GENERATED)
    assert _trestle_valid(trestle_workspace, clean_out / "component-definition.json", "clean")
    clean = json.loads((clean_out / "evidence.json").read_text())
    assert clean["overrides"] == [] and not [f for f in clean["findings"] if f["controls"]]
    assert "fips-config-override" not in (clean_out / "component-definition.json").read_text()
