"""The domain model: parsing and validation rules, references, answers round-trip."""

from __future__ import annotations

import pytest

from tests.projects import answers
from yowasm.errors import ValidationError
from yowasm.model import (
    ArtifactFormat,
    ProjectAnswers,
    Registry,
    RegistryKind,
    Runtime,
    suggest_name,
    validate_host,
    validate_name,
)


@pytest.mark.parametrize("name", ["a", "hello", "hello-wasm", "h2o", "a" * 64, "wasm-module"])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "1a", "-a", "a-", "a--b", "a_b", "a.b", "a" * 65, "test", "std", "self", "node-modules"])
def test_invalid_names(name):
    with pytest.raises(ValidationError) as error:
        validate_name(name)
    assert error.value.field == "module name"


@pytest.mark.parametrize("text, name", [("My Project", "my-project"), ("123", "wasm-module"), ("Test", "test-module"), ("__x__", "x")])
def test_suggest_name_always_gives_a_valid_name(text, name):
    assert suggest_name(text) == name
    validate_name(suggest_name(text))


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "registry.example.com", "10.0.0.1:443", "my-reg.io:5000"])
def test_valid_hosts(host):
    assert validate_host(host) == host


@pytest.mark.parametrize("host", ["myregistry", "reg_istry.io", "reg.io:0", "reg.io:65536", "-reg.io", "reg.io/path"])
def test_invalid_hosts(host):
    with pytest.raises(ValidationError):
        validate_host(host)


@pytest.mark.parametrize(
    "registry, namespace, acr, reference",
    [
        ("ghcr", "octocat", None, "ghcr.io/octocat/hello"),
        ("ghcr.io", "org/team", None, "ghcr.io/org/team/hello"),
        ("dockerhub", "octocat", None, "docker.io/octocat/hello"),
        ("acr", None, "myregistry", "myregistry.azurecr.io/hello"),
        ("myregistry.azurecr.io", None, None, "myregistry.azurecr.io/hello"),
        ("Localhost:5000", "dev", None, "localhost:5000/dev/hello"),
        ("none", None, None, None),
    ],
)
def test_registry_references(registry, namespace, acr, reference):
    assert Registry.parse(registry, namespace, acr).repository("hello") == reference


def test_artifact_format_defaults_by_runtime_and_cncf_only_for_wasmtime():
    assert answers().artifact_format is ArtifactFormat.CNCF
    assert answers(runtime="wagi").artifact_format is ArtifactFormat.WASM_TO_OCI
    with pytest.raises(ValidationError, match="wasm-to-oci"):
        answers(runtime="krustlet", artifact_format="cncf")


def test_answers_round_trip_through_data():
    original = answers(runtime="krustlet", krustlet_node="wagi", registry="acr", namespace=None, acr_name="myregistry")
    assert ProjectAnswers.from_data(original.to_data()) == original
    assert original.is_handler and original.runtime is Runtime.KRUSTLET
    assert original.registry.kind is RegistryKind.ACR
    assert "namespace" not in original.to_data() and "krustlet_node" in original.to_data()
