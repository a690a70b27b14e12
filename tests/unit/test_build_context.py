"""Unpacking a build context: symlinks kept as links, nothing written or read outside it."""

import asyncio
import io
import os
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ketch.guest.engine.build import copy as copying
from ketch.guest.engine.build.context import BuildContext
from ketch.guest.engine.errors import InvalidParameter


def tar_of(*members: tuple[str, str, bytes]) -> bytes:
    """(name, kind: file|symlink, data-or-target) entries as a tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data.decode()
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o751
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def receive(data: bytes, tmp: Path) -> BuildContext:
    async def body() -> AsyncIterator[bytes]:
        yield data

    return asyncio.run(BuildContext.receive(body(), str(tmp)))


def test_symlinks_are_kept_and_sources_stay_inside(tmp_path: Path) -> None:
    context = receive(
        tar_of(
            ("Dockerfile", "file", b"FROM scratch\n"),
            ("etc-link", "symlink", b"/etc"),
            ("bin/tool", "file", b"x"),
        ),
        tmp_path,
    )
    try:
        assert os.readlink(os.path.join(context.root, "etc-link")) == "/etc"
        assert os.stat(os.path.join(context.root, "bin/tool")).st_mode & 0o777 == 0o751
        assert context.read_dockerfile("Dockerfile") == ("Dockerfile", "FROM scratch\n")
        with pytest.raises(InvalidParameter, match="file not found in build context"):
            copying.match_sources(context.root, ["etc-link/passwd"], "COPY")
    finally:
        context.close()


def test_writing_through_a_symlink_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tar_of(("escape", "symlink", str(outside).encode()), ("escape/pwned", "file", b"x"))
    with pytest.raises(InvalidParameter, match="outside"):
        receive(data, tmp_path / "tmp")
    assert not (outside / "pwned").exists()


def test_plain_dockerfile_body(tmp_path: Path) -> None:
    context = receive(b"FROM busybox\nRUN true\n", tmp_path)
    try:
        assert context.read_dockerfile("")[1] == "FROM busybox\nRUN true\n"
    finally:
        context.close()


def test_dockerignore_applied_by_the_daemon(tmp_path: Path) -> None:
    context = receive(
        tar_of(
            ("Dockerfile", "file", b"FROM scratch\n"),
            (".dockerignore", "file", b"Dockerfile\nlogs\n!logs/keep\n*.tmp\n"),
            ("logs/a", "file", b"a"),
            ("logs/keep", "file", b"k"),
            ("x.tmp", "file", b"t"),
            ("src/main.c", "file", b"m"),
        ),
        tmp_path,
    )
    try:
        name, _ = context.read_dockerfile("Dockerfile")
        context.apply_dockerignore(name)
        kept = sorted(
            os.path.relpath(os.path.join(folder, f), context.root)
            for folder, _, files in os.walk(context.root)
            for f in files
        )
        assert kept == ["logs/keep", "src/main.c"]
    finally:
        context.close()
