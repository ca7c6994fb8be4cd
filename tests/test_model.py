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


@pytest.mark.parametrize(
    "runtime, node, handler, layout, publisher",
    [
        ("wasmtime", None, False, "cncf", "oras"),
        ("wagi", None, True, "wasm-to-oci", "oras"),
        ("krustlet", "wasi", False, "wasm-to-oci", "oras"),
        ("krustlet", "wagi", True, "wasm-to-oci", "oras"),
        ("spin", None, True, "spin", "spin"),
        ("runwasi", None, False, "cncf", "oras"),
    ],
)
def test_each_runtime_file_decides_module_kind_and_defaults(runtime, node, handler, layout, publisher):
    chosen = answers(runtime=runtime, krustlet_node=node)
    assert chosen.is_handler is handler
    assert (chosen.artifact_format.value, chosen.publisher.value) == (layout, publisher)
    assert ProjectAnswers.from_data(chosen.to_data()) == chosen
    assert ("krustlet_node" in chosen.to_data()) == (runtime == "krustlet")


@pytest.mark.parametrize("runtime", ["krustlet", "spin", "runwasi"])
def test_runtimes_that_pull_from_a_registry_need_one(runtime):
    with pytest.raises(ValidationError, match=f"pulls modules from an OCI registry, so {runtime} needs one") as error:
        answers(runtime=runtime, registry="none", namespace=None)
    assert error.value.field == "registry"
    answers(runtime="wagi", registry="none", namespace=None)  # a local gateway needs none


@pytest.mark.parametrize(
    "overrides, field, example",
    [
        ({"runtime": "runwasi", "artifact_format": "wasm-to-oci"}, "artifact format", "cncf"),
        ({"runtime": "spin", "artifact_format": "cncf"}, "artifact format", "spin"),
        ({"runtime": "spin", "publisher": "oras"}, "publisher", "spin"),
        ({"runtime": "runwasi", "publisher": "spin"}, "publisher", "oras"),
        ({"runtime": "spin", "name": "hello-2"}, "module name", "hello-wasm"),
    ],
)
def test_runtime_rules_name_the_field_and_a_valid_example(overrides, field, example):
    with pytest.raises(ValidationError) as error:
        answers(**overrides)
    assert (error.value.field, error.value.example) == (field, example)


def test_runtime_next_steps_come_from_the_runtime_file(tmp_path):
    from yowasm.scaffold import Scaffold

    def steps(**overrides):
        return dict(Scaffold(tmp_path, tmp_path, answers(**overrides), [], True).next_steps)

    assert steps(runtime="runwasi")["logs"] == "kubectl logs job/hello-wasm"
    assert "publish" in steps(runtime="runwasi") and "serve" not in steps(runtime="runwasi")
    spin = steps(runtime="spin")
    assert "serve" in spin and spin["publish"] == "spin registry push ghcr.io/octocat/hello-wasm:canary"
    assert "deploy" not in steps()
