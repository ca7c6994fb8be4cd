"""The artifact layouts yowasm publishes: the CNCF config it writes for a module."""

from __future__ import annotations


def test_cncf_config_of_a_component_names_its_world(tmp_path):
    """A component is published as wasip2 with the imports and exports wasmtime reads
    from it; a core module stays wasip1 without them."""
    import json

    import wasmtime

    from yowasm.model import ArtifactFormat
    from yowasm.artifacts import artifact_config

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
