"""Push a module to a registry and pull one back: blobs first and the manifest last,
so a failed push never leaves a tag pointing at missing content; a pull checks every
digest and size and writes its file whole or not at all, whatever signal stops it."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, TypeVar

from yowasm.artifacts import NotAModule, artifact_config, build_manifest, file_sha256, fixed_config, wasm_layer
from yowasm.errors import FileSystemError, InvalidReferenceError, RegistryError, UsageError
from yowasm.model import ArtifactFormat
from yowasm.reference import Reference
from yowasm.registry_client import Connection, ProgressCallback, RegistryClient, sha256_digest
from yowasm.text import literal


@dataclass(frozen=True)
class Published:
    reference: Reference
    digest: str
    size: int
    uploaded_bytes: int

    @property
    def pinned(self) -> str:
        return self.reference.with_digest(self.digest)


def publish(module: Path, reference: Reference, connection: Connection, *,
            layout: ArtifactFormat = ArtifactFormat.WASM_TO_OCI, annotations: Mapping[str, str] | None = None,
            progress: Callable[[int], ProgressCallback] | None = None) -> Published:
    """Push MODULE as an artifact and tag it. Nothing is uploaded when the tag already
    points at the same manifest, and no blob the repository has is sent again.

    What does not wait on anything goes on side by side: on a connection of its own
    the registry says what the tag points at (and when it points at nothing, a config
    that is the same for every module goes up right after), while the module is hashed
    and the registry says whether it has it; then the module goes up."""
    if not module.is_file():
        raise UsageError(f"No module at {literal(module)}.", hint="Build it first: yowasm build")
    if reference.digest or not reference.tag:
        raise InvalidReferenceError(f"Invalid reference {str(reference)!r}: publishing needs a tag, not a digest.",
                                    hint="Example of a valid reference: ghcr.io/octocat/hello:v1.0.0")
    client = RegistryClient(reference, connection)
    client.settle_scheme()
    beside = client.twin()
    tag_check = _Background(_tagged_digest, beside, reference.tag)
    fixed = fixed_config(layout)
    untagged_config = _Background(_config_if_untagged, beside, tag_check, fixed) if fixed is not None else None
    try:
        layer_digest = file_sha256(module)
        size = module.stat().st_size
    except OSError as error:
        raise FileSystemError(f"Cannot read {literal(module)}: {error.strerror}.") from None
    has_layer = client.has_blob(layer_digest, push=True)
    tagged = tag_check.result()
    config = artifact_config(layout, module, layer_digest)
    manifest = build_manifest(layout, module, size, layer_digest, config, annotations or {})
    on_progress = progress(size) if progress else None
    if tagged is None and untagged_config is not None:
        config_upload = untagged_config  # already under way
    else:
        if untagged_config is not None:
            untagged_config.result()  # done at once: it uploads nothing for a tag that points somewhere
        if tagged == sha256_digest(manifest):
            beside.transport.close()
            if on_progress:
                on_progress(size)
            return Published(reference, tagged, size, 0)
        config_upload = _Background(_upload_config, beside, config)
    if not has_layer:
        client.send_blob(module, layer_digest, size, on_progress)
    elif on_progress:
        on_progress(size)
    config_bytes = config_upload.result()
    digest = client.put_manifest(manifest, reference.tag)
    return Published(reference, digest, size, client.uploaded_bytes + config_bytes)


def _tagged_digest(client: RegistryClient, tag: str) -> str | None:
    return client.tagged_digest(tag, push=True)


def _config_if_untagged(client: RegistryClient, tag_check: _Background[str | None], config: bytes) -> int | None:
    """CONFIG uploaded with CLIENT as soon as TAG_CHECK finds that the tag points at
    nothing (no manifest to compare with first): the bytes sent; None, sending
    nothing, when it points at a manifest."""
    if tag_check.result() is not None:
        return None
    return _upload_config(client, config)


def _upload_config(client: RegistryClient, config: bytes) -> int:
    """Upload CONFIG with CLIENT (a twin of the publishing client's, on a connection of
    its own, closed when done); the bytes it sent."""
    try:
        client.upload_blob(config, sha256_digest(config), len(config))
    finally:
        client.transport.close()
    return client.uploaded_bytes


_Result = TypeVar("_Result")


class _Background(Generic[_Result]):
    """WORK(*ARGS) in a thread of its own; `result()` waits for it and returns its
    value or raises its exception. (Hashing and socket I/O release the interpreter
    lock, so the two really go on at once.)"""

    def __init__(self, work: Callable[..., _Result], *args: Any):
        self._value: _Result | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work, args), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[..., _Result], args: tuple[Any, ...]) -> None:
        try:
            self._value = work(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the thread that waits
            self._error = error

    def result(self) -> _Result:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


@dataclass(frozen=True)
class Pulled:
    reference: Reference
    digest: str
    path: Path
    size: int
    layout: ArtifactFormat


def pull(reference: Reference, output: Path, connection: Connection) -> Pulled:
    """Fetch the module of either layout, check every digest, write OUTPUT atomically."""
    import tempfile

    from yowasm.interrupts import interrupt_on_signals

    client = RegistryClient(reference, connection)
    manifest = client.get_manifest(reference.reference)
    manifest_digest = sha256_digest(manifest)
    if reference.digest and reference.digest != manifest_digest:
        raise RegistryError(f"The manifest of {reference} has digest {manifest_digest}, not {reference.digest}.")
    try:
        layer, layout = wasm_layer(manifest)
    except NotAModule as problem:
        raise RegistryError(f"{reference} is not a Wasm module artifact: {literal(problem, single_line=True)}.",
                            hint="yowasm pulls the wasm-to-oci and CNCF Wasm OCI Artifact layouts.") from None
    except ValueError as problem:
        raise client.bad_reply("GET", client.url(f"manifests/{reference.reference}"),
                               literal(problem, single_line=True)) from None
    output = output.absolute()
    temporary: str | None = None
    with interrupt_on_signals():
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
            with os.fdopen(descriptor, "wb") as file:
                client.download_blob(layer.digest, layer.size, file)
            os.chmod(temporary, 0o644)
            os.replace(temporary, output)
        except OSError as error:
            if temporary:
                Path(temporary).unlink(missing_ok=True)
            raise FileSystemError(f"Cannot write {literal(output)}: {error.strerror or error}.") from None
        except BaseException:
            if temporary:
                Path(temporary).unlink(missing_ok=True)
            raise
    return Pulled(reference, manifest_digest, output, layer.size, layout)
