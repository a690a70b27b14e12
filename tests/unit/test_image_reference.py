"""Reference normalization, manifest platform selection, progress text, import --change."""

import json
from pathlib import Path

import pytest

from ketch.guest.engine.errors import InvalidParameter, NotFound
from ketch.guest.engine.images.imports import apply_changes
from ketch.guest.engine.images.progress import bar, human_size
from ketch.guest.registry import manifest as mf
from ketch.guest.store.images import reference
from ketch.guest.store.images.imagedb import ReferenceStore


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox", "busybox"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("user/app", "docker.io/user/app", "user/app"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox", "busybox"),
        ("127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t"),
        ("localhost/app", "localhost/app", "localhost/app"),
    ],
)
def test_references_normalize_like_docker(text: str, full: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar


def test_tag_defaults_to_latest_and_digest_refs_keep_their_digest() -> None:
    assert reference.parse("busybox").tag_or_latest().familiar == "busybox:latest"
    digest = "sha256:" + "a" * 64
    assert reference.parse(f"busybox@{digest}").tag_or_latest().familiar == f"busybox@{digest}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Busybox",
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        ),
        ("a:b:c", "invalid reference format"),
        (
            "a" * 64,
            f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings",
        ),
    ],
)
def test_bad_references_answer_dockers_messages(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        reference.parse(text)
    assert raised.value.message == message


def test_ids_are_recognized() -> None:
    assert reference.looks_like_id("cd9937")
    assert reference.is_full_id("sha256:" + "0" * 64)
    assert not reference.looks_like_id("busybox")


def entry(arch: str, variant: str = "", digest: str = "") -> mf.Descriptor:
    platform = {"os": "linux", "architecture": arch}
    if variant:
        platform["variant"] = variant
    return mf.Descriptor(mf.DOCKER_MANIFEST, digest or f"sha256:{arch}{variant}", 1, platform)


def test_platform_selection_normalizes_variants() -> None:
    entries = [entry("amd64"), entry("arm", "v6"), entry("arm", "v7"), entry("arm64", "v8")]
    assert mf.select_platform(entries, mf.parse_platform("linux/amd64")).digest == "sha256:amd64"
    assert mf.select_platform(entries, mf.parse_platform("linux/arm64")).digest == "sha256:arm64v8"
    assert mf.select_platform(entries, mf.parse_platform("linux/arm")).digest == "sha256:armv7"
    with pytest.raises(NotFound) as raised:
        mf.select_platform(entries, mf.parse_platform("linux/s390x"))
    assert raised.value.message == (
        "no matching manifest for linux/s390x in the manifest list entries"
    )


def test_schema1_answers_a_clear_error() -> None:
    assert "schema 1 support has been removed" in mf.schema1_error("docker.io/x/y").message
    assert mf.media_type_of(b'{"schemaVersion": 1}', "application/json") in mf.SCHEMA1


def test_progress_text_matches_docker() -> None:
    assert human_size(1_984_348) == "1.984MB"
    assert human_size(999) == "999B"
    text = bar(50, 100)
    assert text.startswith("[" + "=" * 25 + ">" + " " * 25 + "] ")
    assert text.endswith("50B/100B")


def test_import_changes_apply_dockerfile_instructions() -> None:
    config = apply_changes(
        {},
        [
            'CMD ["sh"]',
            "ENV A=1 B=2",
            "EXPOSE 80",
            "WORKDIR /srv",
            "LABEL k=v",
            "USER nobody",
            "ENTRYPOINT echo hi",
        ],
    )
    assert config == {
        "Cmd": ["sh"],
        "Env": ["A=1", "B=2"],
        "ExposedPorts": {"80/tcp": {}},
        "WorkingDir": "/srv",
        "Labels": {"k": "v"},
        "User": "nobody",
        "Entrypoint": ["/bin/sh", "-c", "echo hi"],
    }
    with pytest.raises(InvalidParameter):
        apply_changes({}, ["RUN true"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("busybox\n", "invalid reference format"),
        ("busybox:t\u00e4g", "invalid reference format"),
        ("x:" + "a" * 129, "invalid reference format"),
        ("a" * 250 + "/b", "repository name must not be more than 255 characters"),
        ("busybox@sha256:" + "a" * 40, "invalid checksum digest length"),
        ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ],
)
def test_references_follow_the_distribution_grammar(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        reference.parse(text)
    assert raised.value.message == message


@pytest.mark.parametrize("tag", ["../x", "a" * 129, "-x", ".x", "x/y", "t\u00e4g", "x\n", ""])
def test_repo_tag_pairs_refuse_invalid_tags(tag: str) -> None:
    if not tag:
        assert str(reference.repo_tag_reference("x", tag)) == "docker.io/library/x:latest"
        return
    with pytest.raises(InvalidParameter) as raised:
        reference.repo_tag_reference("x", tag)
    assert raised.value.message == "invalid tag format"
    with pytest.raises(InvalidParameter):
        reference.parse_repository_tag("x", tag)


def test_repo_tag_pairs_like_moby() -> None:
    assert reference.repo_tag_reference("", "v1") is None
    assert reference.repo_tag_reference("x:1", "").familiar == "x:1"
    assert reference.repo_tag_reference("x:1", "2").familiar == "x:2"
    with pytest.raises(InvalidParameter) as raised:
        reference.repo_tag_reference("x@sha256:" + "a" * 64, "")
    assert raised.value.message == "cannot import digest reference"
    digest = "sha256:" + "b" * 64
    assert reference.parse_repository_tag("x:1", digest).familiar == f"x@{digest}"


def test_reference_store_skips_entries_it_cannot_parse(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image_id = "sha256:" + "c" * 64
    path = tmp_path / "references.json"
    path.write_text(
        json.dumps(
            {
                "references": {
                    "docker.io/library/x:../x": image_id,
                    "docker.io/library/x:ok": image_id,
                    "docker.io/library/y:ok": 5,
                    "docker.io/library/z:" + "a" * 200: image_id,
                }
            }
        )
    )
    store = ReferenceStore(str(path))
    assert [str(ref) for ref in store.references(image_id)] == ["docker.io/library/x:ok"]
    assert [str(ref) for ref, _ in store.items()] == ["docker.io/library/x:ok"]
    assert "ignoring invalid reference 'docker.io/library/x:../x'" in caplog.text
    store.set(reference.parse("w:1"), image_id)
    assert set(json.loads(path.read_text())["references"]) == {
        "docker.io/library/x:ok",
        "docker.io/library/w:1",
    }


@pytest.mark.parametrize("content", ["{not json", "[]", '{"references": 3}'])
def test_an_unreadable_reference_store_counts_as_empty(tmp_path: Path, content: str) -> None:
    path = tmp_path / "references.json"
    path.write_text(content)
    assert ReferenceStore(str(path)).items() == []
