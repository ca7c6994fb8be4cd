"""What a Wasm module looks like in an OCI registry: the two artifact layouts (see
notes oci.md), the config and manifest yowasm pushes, and the checked reading of a
manifest someone else pushed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from yowasm.model import ArtifactFormat
from yowasm.reference import DIGEST_RE
from yowasm.registry_client import DOCKER_MANIFEST, OCI_MANIFEST, sha256_digest

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class Layout:
    config_media_type: str
    layer_media_type: str


LAYOUTS = {
    ArtifactFormat.WASM_TO_OCI: Layout("application/vnd.wasm.config.v1+json", "application/vnd.wasm.content.layer.v1+wasm"),
    ArtifactFormat.CNCF: Layout("application/vnd.wasm.config.v0+json", "application/wasm"),
}
_LAYOUT_OF_LAYER = {layout.layer_media_type: key for key, layout in LAYOUTS.items()}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


class NotAModule(ValueError):
    """A well-formed manifest whose layers are not one Wasm module."""


def file_sha256(path: Path, block: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(block):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def fixed_config(layout: ArtifactFormat) -> bytes | None:
    """The config blob of LAYOUT when it is the same for every module, else None."""
    return b"{}" if layout is ArtifactFormat.WASM_TO_OCI else None


def artifact_config(layout: ArtifactFormat, module: Path, layer_digest: str) -> bytes:
    fixed = fixed_config(layout)
    if fixed is not None:
        return fixed
    # The module's own time, so republishing an unchanged module changes no blob.
    created = datetime.fromtimestamp(int(module.stat().st_mtime), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = {"created": created, "architecture": "wasm", "os": "wasip1", "layerDigests": [layer_digest]}
    component = _component_interfaces(module)
    if component is not None:
        config.update(os="wasip2", component=component)
    return json.dumps(config, separators=(",", ":")).encode()


#: The preamble after `\0asm` that marks a component (version 0x0d, layer 1), not a core module.
_COMPONENT_PREAMBLE = b"\0asm\x0d\x00\x01\x00"


def _component_interfaces(module: Path) -> dict[str, list[str]] | None:
    """A component's imports and exports as wasmtime reads them from the binary (the
    CNCF config's `component`), or None for a core module."""
    with module.open("rb") as file:
        if file.read(len(_COMPONENT_PREAMBLE)) != _COMPONENT_PREAMBLE:
            return None
    import wasmtime
    from wasmtime.component import Component

    from yowasm.errors import UsageError
    from yowasm.wasm import engine

    try:
        world = Component.from_file(engine(), str(module)).type
    except wasmtime.WasmtimeError as error:
        raise UsageError(f"{module} is not a valid WebAssembly component: {error}") from None
    return {"imports": sorted(world.imports(engine())), "exports": sorted(world.exports(engine()))}


def build_manifest(layout: ArtifactFormat, module: Path, size: int, layer_digest: str, config: bytes,
                   annotations: Mapping[str, str]) -> bytes:
    media = LAYOUTS[layout]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": media.config_media_type, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{
            "mediaType": media.layer_media_type,
            "digest": layer_digest,
            "size": size,
            "annotations": {TITLE: module.name},
        }],
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return json.dumps(manifest, separators=(",", ":")).encode()


def wasm_layer(manifest: bytes) -> tuple[Descriptor, ArtifactFormat]:
    """The one Wasm layer of an image manifest and its layout. ValueError names what
    is wrong with a manifest of the wrong shape; NotAModule, one of other content."""
    try:
        data = json.loads(manifest)
    except (ValueError, RecursionError):
        raise ValueError("a manifest that is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("a manifest that is not a JSON object")
    media_type = data.get("mediaType")
    if media_type in INDEX_TYPES or "manifests" in data:
        raise NotAModule("an index of several manifests (a multi-platform image), not one module")
    if media_type is not None and media_type not in (OCI_MANIFEST, DOCKER_MANIFEST):
        raise ValueError(f"a manifest of media type {str(media_type)[:100]!r}, not an OCI image manifest")
    layers = data.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise ValueError('a manifest whose "layers" is not a list of objects')
    descriptors = []
    for index, layer in enumerate(layers):
        digest, size, kind = layer.get("digest"), layer.get("size"), layer.get("mediaType")
        if not isinstance(kind, str):
            raise ValueError(f'a manifest whose layer {index} has no string "mediaType"')
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            raise ValueError(f'a manifest whose layer {index} "digest" is not sha256: and 64 hex digits')
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f'a manifest whose layer {index} "size" is not a whole number of bytes')
        descriptors.append(Descriptor(kind, digest, size))
    modules = [layer for layer in descriptors if layer.media_type in _LAYOUT_OF_LAYER]
    if len(modules) != 1:
        found = ", ".join(sorted({layer.media_type[:100] for layer in descriptors})) or "no layers"
        raise NotAModule(f"{len(modules)} Wasm layers (its layers: {found})")
    return modules[0], _LAYOUT_OF_LAYER[modules[0].media_type]
