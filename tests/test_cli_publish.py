"""`yowasm publish`, `pull` and `login` against a real registry (Debian's
docker-registry), every push checked by an independent client (skopeo)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from tests.projects import render
from tests.conftest import require_tool, yowasm_argv
from tests.registry import USERS, environment, running_registry, yowasm

WASM_TO_OCI_CONFIG = "application/vnd.wasm.config.v1+json"
WASM_TO_OCI_LAYER = "application/vnd.wasm.content.layer.v1+wasm"


def module(tmp_path: Path, size: int = 4096, name: str = "hello.wasm") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(size - 8))
    return path


@pytest.fixture
def registry(tmp_path):
    with running_registry(tmp_path / "registry") as running:
        yield running


def manifest_of(registry, reference: str) -> dict:
    result = registry.skopeo("inspect", "--raw", f"docker://{reference}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def tags_of(registry, repository: str) -> list[str]:
    result = registry.skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/{repository}")
    return json.loads(result.stdout)["Tags"] if result.returncode == 0 else []


@pytest.mark.registry
@pytest.mark.parametrize("layout", ["wasm-to-oci", "cncf"])
def test_publish_is_what_skopeo_sees_and_copies(registry, tmp_path, layout):
    wasm = module(tmp_path)
    reference = registry.ref("team/hello", "v1.2.0")
    result = yowasm("publish", str(wasm), reference, "--plain-http", "--artifact-format", layout,
                    "--annotation", "org.opencontainers.image.source=https://example.com/hello", cwd=tmp_path,
                    env=environment(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"Pushed {reference}" in result.stdout
    digest = result.stdout.split("Digest: ")[1].split()[0]

    manifest = manifest_of(registry, reference)
    (layer,) = manifest["layers"]
    assert layer["annotations"] == {"org.opencontainers.image.title": "hello.wasm"}
    assert manifest["annotations"] == {"org.opencontainers.image.source": "https://example.com/hello"}
    if layout == "wasm-to-oci":
        assert (manifest["config"]["mediaType"], layer["mediaType"]) == (WASM_TO_OCI_CONFIG, WASM_TO_OCI_LAYER)
        assert manifest["config"]["size"] == 2
    else:
        assert (manifest["config"]["mediaType"], layer["mediaType"]) == ("application/vnd.wasm.config.v0+json", "application/wasm")

    copied = tmp_path / "copied"
    copy = registry.skopeo("copy", "--src-tls-verify=false", f"docker://{reference}", f"oci:{copied}:v1.2.0")
    assert copy.returncode == 0, copy.stderr
    blob = copied / "blobs/sha256" / layer["digest"].split(":")[1]
    assert blob.read_bytes() == wasm.read_bytes()
    index = json.loads((copied / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    if layout == "cncf":
        config = json.loads((copied / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_text())
        assert config["architecture"] == "wasm" and config["os"] == "wasip1"
        assert config["layerDigests"] == [layer["digest"]]


@pytest.mark.registry
def test_republishing_an_unchanged_module_uploads_no_blob(registry, tmp_path):
    wasm = module(tmp_path)
    reference = registry.ref("team/hello", "canary")
    env = environment(tmp_path)
    assert yowasm("publish", str(wasm), reference, "--plain-http", cwd=tmp_path, env=env).returncode == 0
    uploads_after_first = len(registry.upload_requests())
    assert uploads_after_first == 4  # POST + PUT for the config and the layer
    again = yowasm("publish", str(wasm), reference, "--plain-http", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "0 uploaded" in again.stdout
    assert len(registry.upload_requests()) == uploads_after_first


@pytest.mark.registry
def test_a_new_tag_for_a_pushed_module_uploads_no_blob(registry, tmp_path):
    wasm = module(tmp_path, size=3 * 1024 * 1024)
    env = environment(tmp_path)
    assert yowasm("publish", str(wasm), registry.ref("team/hello", "v1"), cwd=tmp_path, env=env).returncode == 0
    uploads = len(registry.upload_requests())
    again = yowasm("publish", str(wasm), registry.ref("team/hello", "v2"), cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "0 uploaded" in again.stdout and len(registry.upload_requests()) == uploads
    assert tags_of(registry, "team/hello") == ["v1", "v2"]


@pytest.mark.registry
def test_a_50_mb_module_goes_up_in_one_streamed_put(registry, tmp_path):
    wasm = module(tmp_path, size=50 * 1024 * 1024, name="big.wasm")
    reference = registry.ref("team/big", "v1")
    result = yowasm("publish", str(wasm), reference, cwd=tmp_path, env=environment(tmp_path))
    assert result.returncode == 0, result.stderr
    methods = sorted(request.split()[0] for request in registry.upload_requests())
    assert methods == ["POST", "POST", "PUT", "PUT"]  # the config and the module (side by side): no PATCH
    pulled = yowasm("pull", reference, "-o", str(tmp_path / "back.wasm"), cwd=tmp_path, env=environment(tmp_path))
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "back.wasm").read_bytes() == wasm.read_bytes()


@pytest.mark.registry
def test_a_cut_streamed_upload_is_retried_in_chunks(registry, tmp_path):
    """The first connection that carries over 1 MiB is cut (mid-PUT); the upload then
    goes again, in 8 MiB PATCH chunks, and what skopeo copies back is the module."""
    proxy = CuttingProxy(int(registry.host.split(":")[1]), limit=1024 * 1024, cuts=1)
    try:
        wasm = module(tmp_path, size=20 * 1024 * 1024, name="big.wasm")
        reference = f"127.0.0.1:{proxy.port}/team/big:v1"
        result = yowasm("publish", str(wasm), reference, cwd=tmp_path, env=environment(tmp_path))
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    patches = [request for request in registry.upload_requests() if request.startswith("PATCH")]
    assert len(patches) == 3  # 20 MiB in 8 MiB chunks
    copied = tmp_path / "copied"
    copy = registry.skopeo("copy", "--src-tls-verify=false", f"docker://{registry.ref('team/big', 'v1')}", f"oci:{copied}:v1")
    assert copy.returncode == 0, copy.stderr
    layer = manifest_of(registry, registry.ref("team/big", "v1"))["layers"][0]
    assert (copied / "blobs/sha256" / layer["digest"].split(":")[1]).read_bytes() == wasm.read_bytes()


@pytest.mark.registry
def test_pull_of_a_skopeo_pushed_artifact(registry, tmp_path):
    """An artifact written by hand as an OCI layout and pushed by skopeo, so that
    nothing of yowasm made it."""
    wasm = module(tmp_path)
    layout = tmp_path / "layout"
    blobs = layout / "blobs/sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": WASM_TO_OCI_CONFIG, **blob(b"{}")},
                "layers": [{"mediaType": WASM_TO_OCI_LAYER, **blob(wasm.read_bytes()),
                            "annotations": {"org.opencontainers.image.title": "hello.wasm"}}]}
    manifest_blob = blob(json.dumps(manifest).encode())
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest_blob,
         "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))
    reference = registry.ref("from/skopeo", "v1")
    copy = registry.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{reference}")
    assert copy.returncode == 0, copy.stderr

    result = yowasm("pull", reference, "--plain-http", cwd=tmp_path, env=environment(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "skopeo.wasm").read_bytes() == wasm.read_bytes()
    assert "wasm-to-oci layout" in result.stdout


@pytest.mark.registry
def test_login_then_publish_with_basic_auth(tmp_path):
    with running_registry(tmp_path / "registry", "basic") as registry:
        env = environment(tmp_path)
        denied = yowasm("publish", str(module(tmp_path)), registry.ref("team/hello"), "--plain-http", cwd=tmp_path, env=env)
        assert denied.returncode == 1 and "yowasm login" in denied.stderr

        wrong = yowasm("login", registry.host, "--username", "pusher", "--password-stdin", "--plain-http",
                       cwd=tmp_path, env=env, stdin="not-the-password\n")
        assert wrong.returncode == 1 and "refused the user name and password of 'pusher'" in wrong.stderr
        assert "Nothing was stored" in wrong.stderr and not (tmp_path / "docker-config").exists()
        assert "not-the-password" not in wrong.stderr + wrong.stdout

        unchecked = yowasm("login", registry.host, "--username", "pusher", "--password-stdin", "--no-verify",
                           cwd=tmp_path, env=env, stdin="not-the-password\n")
        assert unchecked.returncode == 0 and "not checked" in unchecked.stdout
        refused = yowasm("publish", str(module(tmp_path)), registry.ref("team/hello"), "--plain-http", cwd=tmp_path, env=env)
        assert refused.returncode == 1 and "pusher" in refused.stderr
        assert "not-the-password" not in refused.stderr + refused.stdout

        login = yowasm("login", registry.host, "-u", "pusher", "--password-stdin", "--plain-http", cwd=tmp_path,
                       env=env, stdin=USERS["pusher"] + "\n")
        assert login.returncode == 0, login.stderr
        assert "checked by the registry" in login.stdout
        config = tmp_path / "docker-config/config.json"
        assert config.stat().st_mode & 0o777 == 0o600
        assert USERS["pusher"] not in login.stdout + login.stderr
        published = yowasm("publish", str(module(tmp_path)), registry.ref("team/hello"), "--plain-http", cwd=tmp_path, env=env)
        assert published.returncode == 0, published.stderr
        skopeo = registry.skopeo("inspect", "--raw", f"docker://{registry.ref('team/hello')}", creds=("pusher", USERS["pusher"]))
        assert skopeo.returncode == 0


@pytest.mark.registry
def test_token_auth_with_environment_credentials_and_a_pull_only_user(tmp_path):
    with running_registry(tmp_path / "registry", "token") as registry:
        wasm = module(tmp_path)
        pusher = environment(tmp_path, YOWASM_REGISTRY_USERNAME="pusher", YOWASM_REGISTRY_PASSWORD=USERS["pusher"])
        reader = environment(tmp_path, YOWASM_REGISTRY_USERNAME="reader", YOWASM_REGISTRY_PASSWORD=USERS["reader"])
        pushed = yowasm("publish", str(wasm), registry.ref("team/hello", "v1"), "--plain-http", cwd=tmp_path, env=pusher)
        assert pushed.returncode == 0, pushed.stderr

        refused = yowasm("publish", str(module(tmp_path, name="other.wasm")), registry.ref("team/hello", "v2"),
                         "--plain-http", cwd=tmp_path, env=reader)
        assert refused.returncode == 1
        assert "denied" in refused.stderr and "permission" in refused.stderr
        assert USERS["reader"] not in refused.stderr
        pulled = yowasm("pull", registry.ref("team/hello", "v1"), "--plain-http", "-o", "x.wasm", cwd=tmp_path, env=reader)
        assert pulled.returncode == 0, pulled.stderr
        assert (tmp_path / "x.wasm").read_bytes() == wasm.read_bytes()

        # login asks the token service itself, with no repository scope: only the password is judged
        def login(password: str):
            return yowasm("login", registry.host, "-u", "reader", "--password-stdin", "--plain-http", cwd=tmp_path,
                          env=environment(tmp_path), stdin=password + "\n")

        wrong = login("wrong")
        assert wrong.returncode == 1 and "refused the credentials of 'reader'" in wrong.stderr
        right = login(USERS["reader"])
        assert right.returncode == 0 and "checked by the registry" in right.stdout


@pytest.mark.registry
@pytest.mark.parametrize("spelling", ["{host}/team/hello:v1", "http://{host}/team/hello:v1", "localhost:{port}/team/hello:v1"])
def test_a_registry_on_this_machine_needs_no_plain_http_flag(registry, tmp_path, spelling):
    """As the Docker CLI treats 127.0.0.0/8 and localhost: HTTPS first, then plain HTTP."""
    reference = spelling.format(host=registry.host, port=registry.host.split(":")[1])
    env = environment(tmp_path)
    pushed = yowasm("publish", str(module(tmp_path)), reference, cwd=tmp_path, env=env)
    assert pushed.returncode == 0, pushed.stderr
    pulled = yowasm("pull", reference, "-o", "back.wasm", cwd=tmp_path, env=env)
    assert pulled.returncode == 0, pulled.stderr
    https_only = yowasm("pull", f"https://{registry.host}/team/hello:v1", cwd=tmp_path, env=env)
    assert https_only.returncode == 1 and "does not speak HTTPS" in https_only.stderr


@pytest.mark.registry
def test_a_missing_tag_lists_the_tags_there_are(registry, tmp_path):
    env = environment(tmp_path)
    for tag in ("v1", "latest"):
        assert yowasm("publish", str(module(tmp_path)), registry.ref("team/hello", tag), cwd=tmp_path, env=env).returncode == 0
    missing = yowasm("pull", registry.ref("team/hello", "v2"), cwd=tmp_path, env=env)
    assert missing.returncode == 1
    assert "has no tag 'v2'; its tags: latest, v1" in missing.stderr
    default = yowasm("pull", f"{registry.host}/team/hello", "-o", "default.wasm", cwd=tmp_path, env=env)
    assert default.returncode == 0 and ":latest" in default.stdout  # one default tag for publish and pull


@pytest.mark.registry
def test_tls_registry_needs_its_ca(tmp_path):
    with running_registry(tmp_path / "registry", "tls") as registry:
        wasm = module(tmp_path)
        env = environment(tmp_path)
        untrusted = yowasm("publish", str(wasm), registry.ref("team/hello"), cwd=tmp_path, env=env)
        assert untrusted.returncode == 1 and "--ca-file" in untrusted.stderr
        trusted = yowasm("publish", str(wasm), registry.ref("team/hello"), "--ca-file", str(registry.ca_file), cwd=tmp_path, env=env)
        assert trusted.returncode == 0, trusted.stderr


@pytest.mark.registry
def test_publish_in_a_project_uses_its_answers_and_tag(tmp_path):
    with running_registry(tmp_path / "registry") as registry:
        project = render(tmp_path / "hello-wasm", language="c", runtime="wagi", registry=registry.host, namespace="team")
        (project / "build").mkdir()
        wasm = module(project / "build", name="hello-wasm.wasm")
        env = environment(tmp_path)
        result = yowasm("publish", "--plain-http", cwd=project, env=env)
        assert result.returncode == 0, result.stderr
        assert f"Pushed {registry.host}/team/hello-wasm:latest" in result.stdout
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"], cwd=project, check=True)
        subprocess.run(["git", "tag", "v0.3.0"], cwd=project, check=True)
        tagged = yowasm("publish", "--plain-http", cwd=project, env=env)
        assert f"{registry.host}/team/hello-wasm:v0.3.0" in tagged.stdout, tagged.stderr
        # The Krustlet manifest's image and the project's reference are one and the same.
        pulled = yowasm("pull", f"{registry.host}/team/hello-wasm:v0.3.0", "--plain-http", "-o", "back.wasm", cwd=tmp_path, env=env)
        assert pulled.returncode == 0 and (tmp_path / "back.wasm").read_bytes() == wasm.read_bytes()


@pytest.mark.registry
def test_krustlet_manifest_image_pulls_back_the_published_module(tmp_path):
    with running_registry(tmp_path / "registry") as registry:
        project = render(tmp_path / "hello-wasm", language="c", runtime="krustlet", krustlet_node="wagi",
                         registry=registry.host, namespace="team")
        (project / "build").mkdir()
        wasm = module(project / "build", name="hello-wasm.wasm")
        env = environment(tmp_path)
        # The project README's Krustlet steps publish the tag k8s/pod.yaml runs.
        assert yowasm("publish", "--tag", "canary", cwd=project, env=env).returncode == 0
        image = yaml.safe_load((project / "k8s/pod.yaml").read_text())["spec"]["containers"][0]["image"]
        pulled = yowasm("pull", image, "--plain-http", "-o", "pod.wasm", cwd=tmp_path, env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert (tmp_path / "pod.wasm").read_bytes() == wasm.read_bytes()
        assert manifest_of(registry, image)["layers"][0]["mediaType"] == WASM_TO_OCI_LAYER


@pytest.mark.registry
def test_release_workflow_push_step_makes_the_same_manifest_as_yowasm_publish(tmp_path):
    """ORAS is not installable here, so the workflow's `oras push` arguments are read
    from the generated release.yml and the same request is made with yowasm."""
    with running_registry(tmp_path / "registry") as registry:
        project = render(tmp_path / "hello-wasm", language="c", runtime="wagi", registry=registry.host, namespace="team")
        workflow = yaml.safe_load((project / ".github/workflows/release.yml").read_text())
        push = next(step for step in workflow["jobs"]["publish"]["steps"] if step.get("id") == "push")
        config_type = push["run"].split("--config config.json:")[1].split()[0]
        module_arg = push["run"].split('"$MODULE:')[1].split('"')[0]
        assert push["env"]["REPOSITORY"] == f"{registry.host}/team/hello-wasm"
        layout = {WASM_TO_OCI_LAYER: "wasm-to-oci", "application/wasm": "cncf"}[module_arg]
        assert config_type == {"wasm-to-oci": WASM_TO_OCI_CONFIG, "cncf": "application/vnd.wasm.config.v0+json"}[layout]
        assert "printf '{}' > config.json" in push["run"]

        (project / "build").mkdir()
        wasm = module(project / "build", name=push["env"]["MODULE"])
        env = environment(tmp_path)
        as_workflow = yowasm("publish", str(wasm), f"{push['env']['REPOSITORY']}:workflow", "--plain-http",
                             "--artifact-format", layout, cwd=tmp_path, env=env)
        direct = yowasm("publish", "--plain-http", "--tag", "direct", cwd=project, env=env)
        assert as_workflow.returncode == direct.returncode == 0, as_workflow.stderr + direct.stderr
        assert manifest_of(registry, f"{push['env']['REPOSITORY']}:workflow") == manifest_of(
            registry, f"{push['env']['REPOSITORY']}:direct")


# --- faults: a clear message, a non-zero exit, and no tag created or moved ----------


@pytest.mark.registry
def test_registry_down(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = yowasm("publish", str(module(tmp_path)), f"127.0.0.1:{port}/team/hello:v1", "--plain-http",
                    cwd=tmp_path, env=environment(tmp_path))
    assert result.returncode == 1
    assert f"Cannot reach the registry 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
    login = yowasm("login", f"127.0.0.1:{port}", "-u", "pusher", "--password-stdin", "--plain-http",
                   cwd=tmp_path, env=environment(tmp_path), stdin="secret\n")
    assert login.returncode == 1 and f"Cannot reach the registry 127.0.0.1:{port}" in login.stderr
    assert "--no-verify" in login.stderr and not (tmp_path / "docker-config").exists()


@pytest.mark.registry
def test_rejected_manifest_leaves_no_tag(registry, tmp_path):
    """The registry refuses manifests over ~4 MiB; a huge annotation makes one (too big
    for a command line, so the core function is called)."""
    from yowasm.errors import RegistryError
    from yowasm.reference import Reference
    from yowasm.registry_client import Connection
    from yowasm.transfer import publish

    with pytest.raises(RegistryError) as refused:
        publish(module(tmp_path), Reference.parse(registry.ref("team/hello", "v1")), Connection(plain_http=True),
                annotations={"huge": "x" * (5 * 1024 * 1024)})
    assert "MANIFEST_INVALID" in refused.value.message
    assert tags_of(registry, "team/hello") == []


class CuttingProxy:
    """A fault injector: forwards TCP to the registry but drops every connection once
    it has carried more than LIMIT bytes from the client, as a network failing in the
    middle of an upload would. A real registry cannot be made to do this on demand."""

    def __init__(self, target_port: int, limit: int, cuts: int | None = None):
        self.target_port, self.limit, self.cuts = target_port, limit, cuts
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source, sink, count):
        carried = 0
        try:
            while data := source.recv(65536):
                carried += len(data) if count else 0
                if carried > self.limit and (self.cuts is None or self.cuts > 0):
                    if self.cuts is not None:
                        self.cuts -= 1
                    break
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self):
        self.listener.close()


@pytest.mark.registry
def test_connection_dropped_mid_upload_leaves_no_tag(registry, tmp_path):
    proxy = CuttingProxy(int(registry.host.split(":")[1]), limit=1024 * 1024)
    try:
        wasm = module(tmp_path, size=12 * 1024 * 1024, name="big.wasm")
        result = yowasm("publish", str(wasm), f"127.0.0.1:{proxy.port}/team/big:v1", "--plain-http",
                        cwd=tmp_path, env=environment(tmp_path))
    finally:
        proxy.close()
    assert result.returncode == 1
    assert "Cannot reach the registry" in result.stderr
    assert tags_of(registry, "team/big") == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["127.0.0.1:5000/Team/Hello:v1"], "Invalid reference"),
        (["127.0.0.1:5000/team//hello:v1"], "Invalid reference"),
        (["127.0.0.1:5000/team/hello:-bad"], "Invalid reference"),
        (["registry.example.com/team/hello:v1", "--plain-http"], "Refusing --plain-http"),
        (["127.0.0.1:5000/team/hello:v1", "--annotation", "novalue"], "Invalid --annotation"),
    ],
)
def test_bad_input_fails_before_any_request(tmp_path, args, message):
    result = yowasm("publish", str(module(tmp_path)), *args, cwd=tmp_path, env=environment(tmp_path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Example" in result.stderr or "--insecure" in result.stderr


def test_publish_outside_a_project_needs_a_module(tmp_path):
    result = yowasm("publish", cwd=tmp_path, env=environment(tmp_path))
    assert result.returncode == 2 and "No module given" in result.stderr


@pytest.mark.registry
def test_progress_bar_in_a_terminal_only(registry, tmp_path):
    import pexpect

    wasm = module(tmp_path, size=20 * 1024 * 1024, name="big.wasm")
    argv = yowasm_argv("publish", str(wasm), registry.ref("team/big", "v1"), "--plain-http")
    child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=120, dimensions=(30, 120),
                          env=environment(tmp_path))
    child.expect_exact("Pushing big.wasm")
    child.expect_exact("MB")
    child.expect_exact("Pushed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    piped = yowasm("publish", str(wasm), registry.ref("team/big", "v2"), "--plain-http", cwd=tmp_path,
                   env=environment(tmp_path))
    assert "Pushing" not in piped.stdout + piped.stderr  # no bar in logs and pipes


@pytest.mark.registry
def test_files_that_cannot_be_written_are_named(registry, tmp_path):
    env = environment(tmp_path)
    assert yowasm("publish", str(module(tmp_path)), registry.ref("team/hello", "v1"), "--plain-http",
                  cwd=tmp_path, env=env).returncode == 0
    # /proc takes no new files, even from root: a real write failure on any Linux machine.
    pulled = yowasm("pull", registry.ref("team/hello", "v1"), "--plain-http", "-o", "/proc/hello.wasm",
                    cwd=tmp_path, env=env)
    assert pulled.returncode == 1 and "Cannot write /proc/hello.wasm" in pulled.stderr
    assert "Traceback" not in pulled.stderr

    login = yowasm("login", registry.host, "-u", "pusher", "--password-stdin", "--plain-http", cwd=tmp_path,
                   env={**env, "DOCKER_CONFIG": "/proc/yowasm-docker"}, stdin="s3cret-pass\n")
    assert login.returncode == 1
    assert "Cannot write the Docker config file /proc/yowasm-docker/config.json" in login.stderr
    assert "DOCKER_CONFIG" in login.stderr and "s3cret-pass" not in login.stdout + login.stderr


@pytest.mark.registry
def test_a_runwasi_project_publishes_what_its_job_runs(registry, tmp_path):
    """The Job's image is the reference `yowasm publish` pushes, in the CNCF layout with
    a complete config; a component is published as wasip2 with its world."""
    import wasmtime

    project = render(tmp_path / "hello-wasm", language="c", runtime="runwasi", registry=registry.host, namespace="team")
    (project / "build").mkdir()
    (project / "build/hello-wasm.wasm").write_bytes(wasmtime.wat2wasm('(module (func (export "_start")))'))
    env = environment(tmp_path)
    result = yowasm("publish", "--plain-http", "--tag", "canary", cwd=project, env=env)  # as its README says
    assert result.returncode == 0, result.stderr
    job = yaml.safe_load((project / "k8s/job.yaml").read_text())
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    manifest = manifest_of(registry, image)
    assert manifest["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    assert manifest["layers"][0]["annotations"]["org.opencontainers.image.title"] == "hello-wasm.wasm"

    def config_of(reference: str) -> dict:
        copied = tmp_path / reference.rsplit(":", 1)[1]
        copy = registry.skopeo("copy", "--src-tls-verify=false", f"docker://{reference}", f"oci:{copied}:x")
        assert copy.returncode == 0, copy.stderr
        digest = manifest_of(registry, reference)["config"]["digest"]
        return json.loads((copied / "blobs/sha256" / digest.split(":")[1]).read_text())

    config = config_of(image)
    assert {key: config[key] for key in ("architecture", "os")} == {"architecture": "wasm", "os": "wasip1"}
    assert config["layerDigests"] == [manifest["layers"][0]["digest"]] and config["created"].endswith("Z")

    component = tmp_path / "component.wasm"
    component.write_bytes(wasmtime.wat2wasm(
        '(component (import "wasi:cli/stdout@0.2.0" (instance)) (core module $m) (core instance (instantiate $m)))'))
    reference = registry.ref("team/component", "v2")
    pushed = yowasm("publish", str(component), reference, "--plain-http", "--artifact-format", "cncf", cwd=tmp_path, env=env)
    assert pushed.returncode == 0, pushed.stderr
    config = config_of(reference)
    assert config["os"] == "wasip2" and config["component"] == {"imports": ["wasi:cli/stdout@0.2.0"], "exports": []}


def test_the_generated_readmes_registry_commands_work_as_written(tmp_path):
    """The Publishing section's login, publish and pull lines, taken from the README of
    a project on a registry on this machine (with basic auth), run as written; login
    asks its questions in a terminal."""
    import re
    import shlex

    import pexpect

    with running_registry(tmp_path / "registry", "basic") as registry:
        project = render(tmp_path / "hello-wasm", language="c", runtime="wagi", registry=registry.host, namespace="team")
        readme = (project / "README.md").read_text()
        commands = {name: re.search(rf"`(yowasm {name}[^`]*)`", readme).group(1) for name in ("login", "publish", "pull")}
        (project / "build").mkdir()
        wasm = module(project / "build", name="hello-wasm.wasm")
        env = environment(tmp_path)

        argv = yowasm_argv(*shlex.split(commands["login"])[1:])
        login = pexpect.spawn(argv[0], argv[1:], cwd=str(project), env=env, encoding="utf-8", timeout=60,
                              dimensions=(24, 80))
        login.expect("Username")
        login.sendline("pusher")
        login.expect("Password")
        login.sendline(USERS["pusher"])
        login.expect(pexpect.EOF)
        login.close()
        assert login.exitstatus == 0, login.before

        published = yowasm(*shlex.split(commands["publish"])[1:], cwd=project, env=env)
        assert published.returncode == 0, published.stderr
        pulled = yowasm(*shlex.split(commands["pull"])[1:], cwd=tmp_path, env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert (tmp_path / "hello-wasm.wasm").read_bytes() == wasm.read_bytes()


def peak_rss_mb(args: list[str], env: dict, cwd: Path) -> tuple[int, float]:
    """Exit status and peak resident memory (MB) of one real yowasm process, measured
    by GNU time: a child of this big test process would inherit its peak across exec."""
    time_tool = require_tool("time", "sudo apt-get install time")
    result = subprocess.run([time_tool, "-f", "%M", *yowasm_argv(*args)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    return result.returncode, int(result.stderr.strip().splitlines()[-1]) / 1024


@pytest.mark.registry
def test_publish_and_pull_never_hold_the_module_in_memory(registry, tmp_path):
    """A module bigger than the 64 MB budget: the processes stay under it."""
    wasm = module(tmp_path, size=100 * 1024 * 1024, name="huge.wasm")
    env = environment(tmp_path)
    status, published_mb = peak_rss_mb(["publish", str(wasm), registry.ref("team/huge")], env, tmp_path)
    assert status == 0 and published_mb <= 64, published_mb
    status, pulled_mb = peak_rss_mb(["pull", registry.ref("team/huge"), "-o", "back.wasm"], env, tmp_path)
    assert status == 0 and pulled_mb <= 64, pulled_mb
    assert (tmp_path / "back.wasm").stat().st_size == wasm.stat().st_size


@pytest.mark.registry
def test_login_understands_http_urls_and_logout_forgets(tmp_path):
    with running_registry(tmp_path / "registry", "basic") as registry:
        env = environment(tmp_path)
        login = yowasm("login", f"http://{registry.host}", "-u", "pusher", "--password-stdin", cwd=tmp_path, env=env,
                       stdin=USERS["pusher"] + "\n")
        assert login.returncode == 0 and f"Logged in to {registry.host}" in login.stdout, login.stderr
        assert yowasm("publish", str(module(tmp_path)), f"http://{registry.ref('team/hello')}", cwd=tmp_path,
                      env=env).returncode == 0
        logout = yowasm("logout", registry.host, cwd=tmp_path, env=env)
        assert logout.returncode == 0 and "Logged out" in logout.stdout
        denied = yowasm("publish", str(module(tmp_path)), registry.ref("team/hello"), cwd=tmp_path, env=env)
        assert denied.returncode == 1 and f"yowasm login {registry.host}" in denied.stderr
