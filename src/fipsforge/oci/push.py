"""Push an OCI layout's image and its referrers (SBOMs) to a registry, over the distribution API.

Blobs are uploaded monolithically (POST, then PUT with the digest); manifests are sent as their exact
bytes, so the registry stores the same digests the layout has. Referrer manifests carry `subject`;
when the registry does not answer with `OCI-Subject` (no referrers API, as in distribution 2.x), the
OCI 1.1 fallback is used: an index tagged `sha256-<hex of the subject>` listing the referrers. Only
anonymous access (with the registry's bearer-token challenge) is supported. Plain HTTP is used for
loopback registries only.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.oci.writer import MEDIA_INDEX, REF_NAME, canonical_json

_REF = re.compile(
    r"^(?P<host>[^/]+)/(?P<repo>[a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$"
)


class Reference(BaseModel):
    host: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, ref: str) -> Reference:
        match = _REF.match(ref)
        if not match or not ("." in match["host"] or ":" in match["host"] or match["host"] == "localhost"):
            raise FipsforgeError(f"{ref}: not a registry reference of the form HOST[:PORT]/REPOSITORY[:TAG]")
        return cls(host=match["host"], repository=match["repo"], tag=match["tag"] or "latest")

    @staticmethod
    def is_loopback(host_port: str) -> bool:
        """Whether HOST[:PORT] is this machine (plain HTTP is allowed there only)."""
        host = host_port.rsplit(":", 1)[0].strip("[]")
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def base(self) -> str:
        return f"{'http' if self.is_loopback(self.host) else 'https'}://{self.host}/v2/{self.repository}"


class PushResult(BaseModel):
    reference: str
    manifest_digest: str
    referrers: list[str]
    blobs_uploaded: int
    referrers_api: bool
    signed: bool = False
    attestations: list[str] = []
    """cosign attestation types attached (`spdxjson`, `cyclonedx`, `slsaprovenance1`)."""


class _Client:
    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.token: str | None = None

    def request(
        self, method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
            if self.token:
                request.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                if (
                    error.code == 401
                    and attempt == 0
                    and self._authenticate(error.headers.get("WWW-Authenticate", ""))
                ):
                    continue
                return error.code, dict(error.headers), error.read()
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                raise FipsforgeError(f"{self.ref.host}: registry unreachable ({reason})") from error
        raise AssertionError("unreachable")

    def _authenticate(self, challenge: str) -> bool:
        if not challenge.lower().startswith("bearer "):
            return False
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if "realm" not in params:
            return False
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{self.ref.repository}:pull,push")
        url = f"{params['realm']}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        self.token = body.get("token") or body.get("access_token")
        return bool(self.token)

    def check(self, status: int, body: bytes, what: str, ok: tuple[int, ...] = (200, 201, 202)) -> None:
        if status not in ok:
            detail = body.decode(errors="replace").strip().replace("\n", " ")[:200]
            raise FipsforgeError(
                f"{self.ref.host}/{self.ref.repository}: registry refused {what}: HTTP {status} {detail}"
            )

    def push_blob(self, data: bytes, digest: str) -> bool:
        status, _h, _b = self.request("HEAD", f"{self.ref.base}/blobs/{digest}")
        if status == 200:
            return False
        status, headers, body = self.request("POST", f"{self.ref.base}/blobs/uploads/", data=b"")
        self.check(status, body, f"blob upload {digest}")
        location = urllib.parse.urljoin(self.ref.base + "/", headers.get("Location", ""))
        separator = "&" if "?" in location else "?"
        status, _h, body = self.request(
            "PUT", f"{location}{separator}digest={digest}", data=data,
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        self.check(status, body, f"blob {digest}")
        return True

    def push_manifest(self, data: bytes, media_type: str, reference: str) -> dict[str, str]:
        status, headers, body = self.request(
            "PUT", f"{self.ref.base}/manifests/{reference}", data=data, headers={"Content-Type": media_type}
        )
        self.check(status, body, f"manifest {reference}")
        return {k.lower(): v for k, v in headers.items()}


def layout_blob(layout: Path, digest: str) -> bytes:
    """A blob of the layout, checked against its digest."""
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    if not path.is_file():
        raise FipsforgeError(f"{layout}: blob {digest} is missing from the layout")
    data = path.read_bytes()
    if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
        raise FipsforgeError(f"{path}: content does not match its digest")
    return data


class LayoutImage(BaseModel):
    """The image of a layout that a push sends, and the index entries of its referrers."""

    image: dict[str, Any]
    referrers: list[dict[str, Any]]


def layout_image(layout: Path, tag: str) -> LayoutImage:
    """The image tagged `tag` in the layout (or its only image), with the referrers whose subject it is."""
    index_path = layout / "index.json"
    if not index_path.is_file():
        raise FipsforgeError(f"{layout}: not an OCI image layout (no index.json)")
    manifests: list[dict[str, Any]] = json.loads(index_path.read_text()).get("manifests", [])
    images = [m for m in manifests if "artifactType" not in m]
    chosen = [m for m in images if m.get("annotations", {}).get(REF_NAME) == tag] or images
    if len(chosen) != 1:
        raise FipsforgeError(f"{layout}: {len(images)} images in the layout; tag REF like one of them")
    image = chosen[0]
    referrers = [
        m for m in manifests
        if "artifactType" in m
        and json.loads(layout_blob(layout, m["digest"])).get("subject", {}).get("digest") == image["digest"]
    ]  # fmt: skip
    return LayoutImage(image=image, referrers=referrers)


def push_layout(layout: Path, ref: str) -> PushResult:
    """Push the layout's image (the one tagged like REF, or the only one) and every referrer of it."""
    target = Reference.parse(ref)
    found = layout_image(layout, target.tag)
    image = found.image
    client = _Client(target)
    uploaded = 0

    def push_tree(descriptor: dict[str, Any], reference: str) -> dict[str, str]:
        nonlocal uploaded
        data = layout_blob(layout, descriptor["digest"])
        manifest = json.loads(data)
        for blob in [manifest["config"], *manifest.get("layers", [])]:
            uploaded += client.push_blob(layout_blob(layout, blob["digest"]), blob["digest"])
        return client.push_manifest(data, descriptor["mediaType"], reference)

    push_tree(image, target.tag)
    api = True
    for descriptor in found.referrers:
        headers = push_tree(descriptor, descriptor["digest"])
        api = api and headers.get("oci-subject") == image["digest"]
    if found.referrers and not api:
        _push_referrers_tag(client, image["digest"], found.referrers)
    return PushResult(
        reference=f"{target.host}/{target.repository}:{target.tag}",
        manifest_digest=image["digest"],
        referrers=[r["digest"] for r in found.referrers],
        blobs_uploaded=uploaded,
        referrers_api=api,
    )


def referrers_tag(digest: str) -> str:
    return digest.replace(":", "-")


def _push_referrers_tag(client: _Client, subject: str, referrers: list[dict[str, Any]]) -> None:
    """The OCI 1.1 referrers tag schema: merge ours into the index at tag `sha256-<hex>`."""
    tag = referrers_tag(subject)
    status, _h, body = client.request(
        "GET", f"{client.ref.base}/manifests/{tag}", headers={"Accept": MEDIA_INDEX}
    )
    existing = json.loads(body).get("manifests", []) if status == 200 else []
    ours = {r["digest"] for r in referrers}
    keep = [m for m in existing if m.get("digest") not in ours]
    entries = keep + [{k: v for k, v in r.items() if k != "platform"} for r in referrers]
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": entries}
    client.push_manifest(canonical_json(index), MEDIA_INDEX, tag)
