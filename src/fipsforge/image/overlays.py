"""The trees fipsforge builds itself and lays over the Debian rootfs: the FIPS stack, CPython, libsodium."""

from __future__ import annotations

from collections.abc import Callable

from fipsforge.apt import AptRoot
from fipsforge.image.build import Overlay
from fipsforge.image.sbom import Component
from fipsforge.image.spec import ImageSpec
from fipsforge.stack.build import StackBuild, build_stack

# Headers, pkg-config files and cmake files serve builds, not images.
STACK_SKIP = ["/usr/include", "/usr/lib/x86_64-linux-gnu/pkgconfig", "/usr/lib/x86_64-linux-gnu/cmake"]


def stack_components(stack: StackBuild) -> list[Component]:
    """The stack as three components: OpenSSL, its FIPS provider (the module), jitterentropy."""
    m = stack.manifest
    openssl_src = {k: v for k, v in m.inputs.items() if k.startswith("openssl")}
    jitter_src = {k: v for k, v in m.inputs.items() if k.startswith("jitterentropy")}
    provider_src = {m.pairing.source: m.pairing.sha256} if m.pairing else openssl_src
    return [
        Component(
            name="openssl",
            version=m.openssl_version,
            role="library",
            description=f"libssl, libcrypto and the openssl CLI ({m.openssl_version_text}), "
            f"from Debian source openssl {m.debian_sources.get('openssl', '?')}, configured: {m.configure}",
            sources=openssl_src,
            cpe=f"cpe:2.3:a:openssl:openssl:{m.openssl_version}:*:*:*:*:*:*:*",
        ),
        Component(
            name="openssl-fips-provider",
            version=m.fips_provider_version,
            role="fips-module",
            description=f"{m.fips_provider_name} (fips.so), module-mac {m.module_mac}",
            sources=provider_src,
        ),
        Component(
            name="jitterentropy",
            version=m.jitterentropy_version,
            role="entropy-source",
            description=f"CPU-timing jitter noise source seeding the DRBG ({m.seeding_source}), "
            f"from Debian source jitterentropy-rngd {m.debian_sources.get('jitterentropy-rngd', '?')}",
            sources=jitter_src,
        ),
    ]


def stack_overlay(stack: StackBuild) -> Overlay:
    return Overlay(
        staging=stack.staging,
        components=stack_components(stack),
        cache_key=f"stack:{stack.manifest.cache_key}",
        skip_trees=STACK_SKIP,
    )


def _cpython(root: AptRoot, stack: StackBuild) -> Overlay:
    from fipsforge.image.cpython import build_cpython, cpython_overlay

    return cpython_overlay(build_cpython(root, stack))


def _libsodium(root: AptRoot, stack: StackBuild) -> Overlay:
    from fipsforge.image.libsodium import build_libsodium, libsodium_overlay

    return libsodium_overlay(build_libsodium(root, stack))


# `spec.SOURCE_BUILDS` field → what it builds against the stack (each module imported only when asked).
SOURCE_BUILD_OVERLAYS: dict[str, Callable[[AptRoot, StackBuild], Overlay]] = {
    "cpython": _cpython,
    "libsodium": _libsodium,
}


def spec_overlays(spec: ImageSpec, root: AptRoot, say: Callable[[str], None]) -> list[Overlay]:
    """Build (or take from the cache) what `spec` asks for: the stack, then the source builds against it."""
    if not spec.fips_stack:
        return []
    say("FIPS stack")
    stack = build_stack()
    overlays = [stack_overlay(stack)]
    for build in spec.source_builds:
        say(build)
        overlays.append(SOURCE_BUILD_OVERLAYS[build](root, stack))
    return overlays
