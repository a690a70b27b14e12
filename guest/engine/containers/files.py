"""A container's files: `docker cp` (archive stat/get/put), export, diff and commit."""

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ketch.common.proc import stream_stdout
from ketch.guest.engine.build.changes import apply_changes
from ketch.guest.engine.containers import rootfs, users
from ketch.guest.engine.containers.archive_worker import ArchiveWorkers, stat_header
from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.errors import Forbidden, NotFound
from ketch.guest.engine.timestamps import format_rfc3339_nano

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

CHANGE_MODIFIED, CHANGE_ADDED, CHANGE_DELETED = 0, 1, 2


class ContainerFiles:
    def __init__(self, service: "ContainerService") -> None:
        self.service = service
        # Copies of a stopped container share one mount of its rootfs: the last one out
        # unmounts it (and only if this object mounted it), so none is left on an empty folder.
        self._merged_users: dict[str, int] = {}
        self._merged_by_us: set[str] = set()
        self._mounting = asyncio.Lock()
        self.archivers = ArchiveWorkers()

    @contextlib.asynccontextmanager
    async def root(self, c: Container) -> AsyncIterator[int]:
        """The container's root directory, open (O_PATH): a running one's as its processes see
        it, volumes included; a stopped one's overlay, mounted meanwhile."""
        pid = int(c.state.get("Pid") or 0)
        if c.running and pid:
            fd = _open_running_root(pid, self.service.store.paths(c.id).merged)
            if fd is not None:
                try:
                    yield fd
                finally:
                    os.close(fd)
                return
        async with self.merged(c) as merged:
            fd = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                yield fd
            finally:
                os.close(fd)

    @contextlib.asynccontextmanager
    async def merged(self, c: Container) -> AsyncIterator[str]:
        """The overlay rootfs (without the container's mounts), mounted while needed."""
        paths = self.service.store.paths(c.id)
        merged = paths.merged
        async with self._mounting:
            if not self._merged_users.get(c.id) and not os.path.ismount(merged):
                image = self.service.images.get(c.image_id)
                await rootfs.mount_overlay(
                    image.layer_dirs(), paths.upper, paths.work, merged, paths.empty
                )
                self._merged_by_us.add(c.id)
            self._merged_users[c.id] = self._merged_users.get(c.id, 0) + 1
        try:
            yield merged
        finally:
            async with self._mounting:
                self._merged_users[c.id] -= 1
                if not self._merged_users[c.id]:
                    del self._merged_users[c.id]
                    if c.id in self._merged_by_us:
                        self._merged_by_us.discard(c.id)
                        if not c.running:
                            await rootfs.unmount(merged)

    async def stat(self, c: Container, ref: str, path: str) -> dict[str, Any]:
        """The stat header of path in the container (HEAD /containers/{id}/archive)."""
        async with self.root(c) as root:
            worker = await self.archivers.start(root, "stat", path)
            try:
                return stat_header((await worker.reply(path, ref))["stat"])
            finally:
                await worker.finish()

    async def get_archive(
        self, c: Container, ref: str, path: str
    ) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """The stat header and a tar stream of path (for `docker cp c:path -`)."""
        held = contextlib.AsyncExitStack()
        root = await held.enter_async_context(self.root(c))
        try:
            worker = await self.archivers.start(root, "get", path)
            held.push_async_callback(worker.finish)
            info = stat_header((await worker.reply(path, ref))["stat"])
        except BaseException:
            await held.aclose()
            raise
        self.service.publish(c, "archive-path")

        async def chunks() -> AsyncIterator[bytes]:
            async with held:
                async for chunk in worker.output():
                    yield chunk

        return info, chunks()

    async def put_archive(
        self,
        c: Container,
        ref: str,
        path: str,
        body: AsyncIterator[bytes],
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool = False,
    ) -> None:
        if c.host_config.get("ReadonlyRootfs"):
            raise Forbidden("container rootfs is marked read-only")
        options = ["--no-overwrite-dir-non-dir"] if no_overwrite_dir_non_dir else []
        async with self.root(c) as root:
            user = c.config.get("User") or ""
            if copy_uid_gid and user:  # as Moby: the container's user owns what is copied
                uid, gid, _ = await asyncio.to_thread(
                    users.process_user, f"/proc/self/fd/{root}", user
                )
                options.append(f"--chown={uid}:{gid}")
            worker = await self.archivers.start(root, "put", path, *options)
            try:
                await worker.reply(path, ref)
                await worker.feed(body)
                await worker.reply(path, ref)
            finally:
                await worker.finish()
        self.service.publish(c, "extract-to-dir")

    async def export(self, c: Container) -> AsyncIterator[bytes]:
        self.service.publish(c, "export")
        async with self.merged(c) as merged:
            async for chunk in stream_stdout(
                ["tar", "--numeric-owner", "-C", merged, "-cf", "-", "."]
            ):
                yield chunk

    def changes(self, c: Container) -> list[dict[str, Any]]:
        """`docker diff` from the overlay upperdir (whiteouts are deletions)."""
        upper = self.service.store.paths(c.id).upper
        try:
            lowers = self.service.images.get(c.image_id).layer_dirs()
        except NotFound:
            lowers = []

        def in_lower(rel: str) -> bool:
            return any(os.path.lexists(os.path.join(lower, rel.lstrip("/"))) for lower in lowers)

        result: dict[str, int] = {}
        for dirpath, dirnames, filenames in os.walk(upper):
            rel_dir = "/" + os.path.relpath(dirpath, upper) if dirpath != upper else ""
            for name in dirnames + filenames:
                rel = f"{rel_dir}/{name}"
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    result[rel] = CHANGE_DELETED
                elif in_lower(rel):
                    result[rel] = CHANGE_MODIFIED
                else:
                    result[rel] = CHANGE_ADDED
        return [{"Path": p, "Kind": k} for p, k in sorted(_hide_mountpoints(result).items())]

    async def commit(
        self,
        c: Container,
        repo: str,
        tag: str,
        comment: str,
        author: str,
        pause: bool,
        overrides: dict[str, Any],
        changes: list[str],
    ) -> str:
        service = self.service
        parent = service.images.get(c.image_id)
        config = {k: v for k, v in c.config.items() if k != "Image"}
        config.update({k: v for k, v in overrides.items() if v})
        config = apply_changes(config, changes)
        if author:
            config["author"] = author
        if comment:
            config["comment"] = comment
        history = {
            "created": format_rfc3339_nano(time.time_ns()),
            "created_by": " ".join([c.record["Path"], *c.record["Args"]]),
            **({"comment": comment} if comment else {}),
            **({"author": author} if author else {}),
        }
        reference = f"{repo}:{tag or 'latest'}" if repo else None
        paused_here = False
        if pause and c.running and not c.state.get("Paused"):
            with contextlib.suppress(Exception):
                await service.lifecycle.runtime_of(c).pause(c.id)
                paused_here = True
        try:
            image = await service.images.commit(
                parent, service.store.paths(c.id).upper, config, history, reference
            )
        finally:
            if paused_here:
                with contextlib.suppress(Exception):
                    await service.lifecycle.runtime_of(c).resume(c.id)
        service.publish(c, "commit", comment=comment, imageID=image.id, imageRef=reference or "")
        return image.id  # type: ignore[no-any-return]


# Mount points the runtime creates in the upperdir; Moby keeps them in an init layer instead.
RUNTIME_MOUNTPOINTS = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv")


def _open_running_root(pid: int, merged: str) -> int | None:
    """/proc/<pid>/root, once open checked to be the container's rootfs (the overlay at merged):
    had the process exited and its pid gone to a host process, this would be the host's /."""
    try:
        fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        opened, expected = os.fstat(fd), os.stat(merged)
    except OSError:
        os.close(fd)
        return None
    if (opened.st_dev, opened.st_ino) != (expected.st_dev, expected.st_ino):
        os.close(fd)
        return None
    return fd


def _hide_mountpoints(result: dict[str, int]) -> dict[str, int]:
    kept = {p: k for p, k in result.items() if p not in RUNTIME_MOUNTPOINTS}
    for path, kind in list(kept.items()):
        if (
            kind == CHANGE_MODIFIED
            and not any(other.startswith(path + "/") for other in kept)
            and any(m.startswith(path + "/") for m in RUNTIME_MOUNTPOINTS)
        ):
            del kept[path]
    return kept
