"""OCI references are validated against the distribution grammar before any request."""

from __future__ import annotations

import pytest

from yowasm.errors import InvalidReferenceError, UsageError
from yowasm.oci import Connection, Reference, is_loopback


@pytest.mark.parametrize(
    "text, registry, repository, tag, digest",
    [
        ("ghcr.io/octocat/hello:v1.2.0", "ghcr.io", "octocat/hello", "v1.2.0", None),
        ("localhost:5000/a/b/c", "localhost:5000", "a/b/c", "latest", None),
        ("octocat/hello", "docker.io", "octocat/hello", "latest", None),
        ("hello", "docker.io", "library/hello", "latest", None),
        ("127.0.0.1:5000/x@sha256:" + "a" * 64, "127.0.0.1:5000", "x", None, "sha256:" + "a" * 64),
        ("myreg.azurecr.io/hello:canary", "myreg.azurecr.io", "hello", "canary", None),
    ],
)
def test_valid_references(text, registry, repository, tag, digest):
    reference = Reference.parse(text)
    assert (reference.registry, reference.repository, reference.tag, reference.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize(
    "text",
    ["ghcr.io/Octocat/hello", "ghcr.io/octo//hello", "ghcr.io/octocat/hello:.bad", "ghcr.io/a/b:" + "t" * 129,
     "ghcr.io/a/b@sha256:short", "ghcr.io/-a/b", "ghcr.io/a/../b", "", "ghcr.io/a/b:tag:extra"],
)
def test_invalid_references_name_the_rule_and_an_example(text):
    with pytest.raises(InvalidReferenceError) as error:
        Reference.parse(text)
    assert "Example of a valid reference" in error.value.hint


def test_docker_hub_api_host():
    assert Reference.parse("octocat/hello").api_host == "registry-1.docker.io"


@pytest.mark.parametrize("host, loopback", [("localhost:5000", True), ("127.0.0.1:80", True), ("[::1]:5000", True),
                                            ("10.0.0.1:5000", False), ("registry.example.com", False)])
def test_plain_http_only_to_this_machine(host, loopback):
    assert is_loopback(host) is loopback
    if loopback:
        Connection(plain_http=True).check(host)
    else:
        with pytest.raises(UsageError, match="--insecure"):
            Connection(plain_http=True).check(host)
        Connection(plain_http=True, insecure=True).check(host)


def test_credentials_never_show_in_a_repr():
    from yowasm.credentials import Credentials

    connection = Connection(credentials=Credentials("octocat", "s3cr3t-token"))
    assert "s3cr3t-token" not in repr(connection) and "s3cr3t-token" not in repr(connection.credentials)


def test_cncf_config_of_a_component_names_its_world(tmp_path):
    """A component is published as wasip2 with the imports and exports wasmtime reads
    from it; a core module stays wasip1 without them."""
    import json

    import wasmtime

    from yowasm.model import ArtifactFormat
    from yowasm.oci import artifact_config

    component = tmp_path / "hello.wasm"
    component.write_bytes(wasmtime.wat2wasm("""(component
      (import "wasi:cli/environment@0.2.0" (instance (export "get-arguments" (func (result (list string))))))
      (core module $m (func (export "run")))
      (core instance $i (instantiate $m))
      (func $run (canon lift (core func $i "run")))
      (instance $cli (export "run" (func $run)))
      (export "wasi:cli/run@0.2.0" (instance $cli)))"""))
    config = json.loads(artifact_config(ArtifactFormat.CNCF, component, "sha256:" + "a" * 64))
    assert (config["architecture"], config["os"], config["layerDigests"]) == ("wasm", "wasip2", ["sha256:" + "a" * 64])
    assert config["component"] == {"imports": ["wasi:cli/environment@0.2.0"], "exports": ["wasi:cli/run@0.2.0"]}
    assert config["created"].endswith("Z")

    module = tmp_path / "core.wasm"
    module.write_bytes(wasmtime.wat2wasm('(module (func (export "_start")))'))
    config = json.loads(artifact_config(ArtifactFormat.CNCF, module, "sha256:" + "b" * 64))
    assert config["os"] == "wasip1" and "component" not in config
    assert artifact_config(ArtifactFormat.WASM_TO_OCI, component, "sha256:" + "a" * 64) == b"{}"
