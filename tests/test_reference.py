"""OCI references are validated against the distribution grammar before any request."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yowasm.errors import InvalidReferenceError, UsageError
from yowasm.reference import Reference, is_loopback
from yowasm.registry_client import Connection


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


@pytest.mark.parametrize("text, scheme, registry", [
    ("http://127.0.0.1:5000/team/hello:v1", "http", "127.0.0.1:5000"),
    ("HTTPS://ghcr.io/octocat/hello", "https", "ghcr.io"),
    ("[::1]:5000/team/hello", None, "[::1]:5000"),
    ("index.docker.io/octocat/hello", None, "docker.io"),
    ("registry-1.docker.io/library/hello", None, "docker.io"),
])
def test_schemes_and_aliases(text, scheme, registry):
    reference = Reference.parse(text)
    assert (reference.scheme, reference.registry) == (scheme, registry)
    assert "://" not in str(reference)


@pytest.mark.parametrize("text, spelling", [
    ("docker://127.0.0.1:5000/team/hello:v1", "Write it as 127.0.0.1:5000/team/hello:v1"),
    ("oci://ghcr.io/octocat/hello", "Write it as ghcr.io/octocat/hello"),
    ("http://hello", "http://127.0.0.1:5000/team/hello:v1"),
])
def test_foreign_spellings_are_refused_with_the_right_one(text, spelling):
    with pytest.raises(InvalidReferenceError) as error:
        Reference.parse(text)
    assert spelling in error.value.hint


def test_one_default_tag():
    from yowasm.reference import DEFAULT_TAG

    assert DEFAULT_TAG == "latest" and Reference.parse("ghcr.io/octocat/hello").tag == DEFAULT_TAG


@given(st.text(max_size=80) | st.from_regex(r"(https?://)?[a-z0-9.:\[\]]{1,20}/[a-z0-9/._-]{1,30}(:[A-Za-z0-9._-]{1,20})?",
                                            fullmatch=True))
def test_any_text_is_a_reference_or_one_clear_error(text):
    try:
        reference = Reference.parse(text)
    except InvalidReferenceError as error:
        assert "Invalid reference" in error.message and error.hint
        return
    again = Reference.parse(str(reference))
    assert (again.registry, again.repository, again.tag, again.digest) == (
        reference.registry, reference.repository, reference.tag, reference.digest)
