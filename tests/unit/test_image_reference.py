"""Reference normalization, manifest platform selection, progress text, import --change."""

import pytest

from ketch.guest.engine.errors import InvalidParameter, NotFound
from ketch.guest.engine.images.imports import apply_changes
from ketch.guest.engine.images.progress import bar, human_size
from ketch.guest.registry import manifest as mf
from ketch.guest.store.images import reference


@pytest.mark.parametrize(("text", "full", "familiar"), [
    ("busybox", "docker.io/library/busybox", "busybox"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("user/app", "docker.io/user/app", "user/app"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox", "busybox"),
    ("127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t"),
    ("localhost/app", "localhost/app", "localhost/app"),
])
def test_references_normalize_like_docker(text: str, full: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar


def test_tag_defaults_to_latest_and_digest_refs_keep_their_digest() -> None:
    assert reference.parse("busybox").tag_or_latest().familiar == "busybox:latest"
    digest = "sha256:" + "a" * 64
    assert reference.parse(f"busybox@{digest}").tag_or_latest().familiar == f"busybox@{digest}"


@pytest.mark.parametrize(("text", "message"), [
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("a:b:c", "invalid reference format"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal "
               f"strings"),
])
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
    assert mf.select_platform(entries, mf.parse_platform("linux/amd64")).digest == \
        "sha256:amd64"
    assert mf.select_platform(entries, mf.parse_platform("linux/arm64")).digest == \
        "sha256:arm64v8"
    assert mf.select_platform(entries, mf.parse_platform("linux/arm")).digest == \
        "sha256:armv7"
    with pytest.raises(NotFound) as raised:
        mf.select_platform(entries, mf.parse_platform("linux/s390x"))
    assert raised.value.message == ("no matching manifest for linux/s390x in the manifest list "
                                    "entries")


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
    config = apply_changes({}, ['CMD ["sh"]', "ENV A=1 B=2", "EXPOSE 80", "WORKDIR /srv",
                                "LABEL k=v", "USER nobody", "ENTRYPOINT echo hi"])
    assert config == {"Cmd": ["sh"], "Env": ["A=1", "B=2"], "ExposedPorts": {"80/tcp": {}},
                      "WorkingDir": "/srv", "Labels": {"k": "v"}, "User": "nobody",
                      "Entrypoint": ["/bin/sh", "-c", "echo hi"]}
    with pytest.raises(InvalidParameter):
        apply_changes({}, ["RUN true"])
