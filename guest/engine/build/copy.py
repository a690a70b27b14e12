"""COPY and ADD file work: matching sources, their content checksum (the cache key) and copying
them into a new layer folder with Docker's destination rules."""

import glob
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass

from ketch.guest.engine.containers.inroot import host_path
from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.util.untar import OutsideDestination, contained, extract_all, with_changes

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Source:
    root: str
    """The folder sources are read from: the context, a stage's or an image's rootfs."""
    path: str
    """Relative to root, cleaned."""
    extract: bool = False
    """ADD of a local archive: unpack it instead of copying."""

    @property
    def full(self) -> str:
        return os.path.join(self.root, self.path) if self.path else self.root


@dataclass(frozen=True)
class Ownership:
    uid: int = 0
    gid: int = 0
    mode: int | None = None
    """--chmod bits, applied to everything copied."""
    keep_archive_owner: bool = False


def clean_source(path: str, keyword: str) -> str:
    cleaned = posixpath.normpath("/" + path).lstrip("/")
    if posixpath.normpath(path).startswith("../"):
        raise InvalidParameter(
            f"{keyword} failed: forbidden path outside the build context: {path} ()"
        )
    return cleaned


def match_sources(root: str, patterns: list[str], keyword: str) -> list[str]:
    """Context-relative paths the source arguments name (globs expanded, sorted)."""
    found: list[str] = []
    for pattern in patterns:
        cleaned = clean_source(pattern, keyword)
        if any(c in cleaned for c in GLOB_CHARS):
            matches = sorted(glob.glob(cleaned, root_dir=root, include_hidden=True))
            if not matches:
                raise InvalidParameter(f"{keyword} failed: no source files were specified")
            found.extend(_within(root, m) for m in matches)
            continue
        real = _within(root, cleaned)
        if not os.path.lexists(os.path.join(root, real)):
            raise InvalidParameter(
                f"{keyword} failed: file not found in build context or excluded by "
                f".dockerignore: stat {pattern}: file does not exist"
            )
        found.append(real)
    return found


def _within(root: str, relative: str) -> str:
    """relative with its folders' symlinks resolved inside root (a source never escapes)."""
    real = os.path.relpath(host_path(root, relative, follow_last=False), root)
    return "" if real == "." else real


def checksum(sources: list[Source]) -> str:
    """Hash of the sources' names, modes and contents: what keys a COPY in the cache."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(f"src {source.path} {source.extract}\n".encode())
        for relative, full in _walk(source.full):
            st = os.lstat(full)
            digest.update(f"{relative} {st.st_mode:o} {st.st_size}\n".encode())
            if stat.S_ISLNK(st.st_mode):
                digest.update(os.readlink(full).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
    return digest.hexdigest()


def _walk(top: str) -> list[tuple[str, str]]:
    if not os.path.isdir(top) or os.path.islink(top):
        return [(".", top)]
    items = [(".", top)]
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(folder, name)
            items.append((os.path.relpath(full, top), full))
    return items


def is_archive(path: str) -> bool:
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        with tarfile.open(path, "r:*") as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def resolve_dest(dest: str, workdir: str) -> str:
    absolute = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    cleaned = posixpath.normpath(absolute)
    if dest.endswith("/") or dest.endswith("/.") or dest in (".", ""):
        cleaned = cleaned.rstrip("/") + "/"
    return cleaned


def copy_sources(
    sources: list[Source], dest: str, rootfs: str, upper: str, owner: Ownership, keyword: str
) -> None:
    """Copy sources to dest (an absolute in-image path) into the upper (layer) folder."""
    dest_is_dir = dest.endswith("/")
    many = len(sources) > 1
    if many and not dest_is_dir:
        raise InvalidParameter(
            f"When using {keyword} with more than one source file, the "
            "destination must be a directory and end with a /"
        )
    target = _in_image(rootfs, dest)
    existing_dir = os.path.isdir(host_path(rootfs, target))
    for source in sources:
        full = source.full
        if source.extract:
            _make_parents(rootfs, upper, target, owner, include_self=True)
            _extract(full, os.path.join(upper, target.lstrip("/")), owner)
        elif os.path.isdir(full) and not os.path.islink(full):
            _make_parents(rootfs, upper, target, owner, include_self=True)
            _copy_tree(full, os.path.join(upper, target.lstrip("/")), owner)
        else:
            path = target
            if dest_is_dir or existing_dir:
                path = posixpath.join(target, posixpath.basename(source.path))
            _make_parents(rootfs, upper, path, owner, include_self=False)
            _copy_entry(full, os.path.join(upper, path.lstrip("/")), owner)


def _in_image(rootfs: str, dest: str) -> str:
    """The canonical in-image path of dest (its parent folders' symlinks resolved)."""
    parent, name = posixpath.split(dest.rstrip("/") or "/")
    real_parent = os.path.relpath(host_path(rootfs, parent), rootfs)
    real_parent = "/" if real_parent == "." else "/" + real_parent
    if not name:
        return real_parent
    full = posixpath.join(real_parent, name)
    host = os.path.join(rootfs, full.lstrip("/"))
    if os.path.islink(host) and os.path.isdir(host_path(rootfs, full)):
        real = os.path.relpath(host_path(rootfs, full), rootfs)
        return "/" if real == "." else "/" + real
    return full


def make_folder(rootfs: str, upper: str, path: str) -> None:
    """WORKDIR's folder (and missing parents) in the layer, root-owned, 0755."""
    _make_parents(rootfs, upper, _in_image(rootfs, path), Ownership(), include_self=True)


def _make_parents(rootfs: str, upper: str, path: str, owner: Ownership, include_self: bool) -> None:
    parts = [p for p in path.split("/") if p]
    if not include_self:
        parts = parts[:-1]
    current = ""
    for part in parts:
        current = f"{current}/{part}"
        layer_path = os.path.join(upper, current.lstrip("/"))
        if os.path.isdir(layer_path):
            continue
        in_image = os.path.join(rootfs, current.lstrip("/"))
        os.mkdir(layer_path)
        if os.path.isdir(in_image) and not os.path.islink(in_image):
            st = os.stat(in_image)
            os.chmod(layer_path, stat.S_IMODE(st.st_mode))
            os.chown(layer_path, st.st_uid, st.st_gid)
        else:
            os.chmod(layer_path, 0o755)
            os.chown(layer_path, owner.uid, owner.gid)


def _apply_owner(path: str, st: os.stat_result, owner: Ownership) -> None:
    os.lchown(path, owner.uid, owner.gid)
    if not stat.S_ISLNK(st.st_mode):
        mode = owner.mode if owner.mode is not None else stat.S_IMODE(st.st_mode)
        os.chmod(path, mode)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_entry(src: str, dst: str, owner: Ownership) -> None:
    st = os.lstat(src)
    if os.path.isdir(dst) and not os.path.islink(dst) and not stat.S_ISDIR(st.st_mode):
        shutil.rmtree(dst)
    elif os.path.lexists(dst) and not os.path.isdir(dst):
        os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(st.st_mode):
        os.makedirs(dst, exist_ok=True)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    else:
        return
    _apply_owner(dst, st, owner)


def _copy_tree(src: str, dst: str, owner: Ownership) -> None:
    """The contents of src (not src itself) into dst, which takes src's own mode."""
    os.makedirs(dst, exist_ok=True)
    for folder, dirs, files in os.walk(src):
        relative = os.path.relpath(folder, src)
        for name in sorted(dirs) + sorted(files):
            _copy_entry(os.path.join(folder, name), os.path.join(dst, relative, name), owner)
    dirs_deepest_first = sorted((f for f, _, _ in os.walk(src)), key=len, reverse=True)
    for folder in dirs_deepest_first:
        relative = os.path.relpath(folder, src)
        _apply_owner(os.path.normpath(os.path.join(dst, relative)), os.lstat(folder), owner)


def _extract(archive: str, dst: str, owner: Ownership) -> None:
    os.makedirs(dst, exist_ok=True)

    def keep(member: tarfile.TarInfo) -> tarfile.TarInfo:
        safe = contained(member, dst)
        if owner.keep_archive_owner:
            return safe
        return with_changes(safe, uid=owner.uid, gid=owner.gid, uname="", gname="")

    try:
        with tarfile.open(archive, "r:*") as tar:
            extract_all(tar, dst, keep)
    except OutsideDestination as e:
        raise InvalidParameter(f"failed to extract {os.path.basename(archive)}: {e}") from e
