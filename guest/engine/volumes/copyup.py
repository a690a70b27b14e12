"""Copy-up: a new, empty volume takes the image's content at its mount path (as Moby does)."""

import contextlib
import os
import shutil
import stat

from ketch.common.proc import run_async

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


def is_empty_dir(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except FileNotFoundError:
        return True


def _inside(root: str, relative: str) -> str:
    path = os.path.normpath(os.path.join(root, relative.lstrip("/")))
    return path if path == root or path.startswith(root.rstrip("/") + "/") else root


def _apply_whiteouts(layer_path: str, dest: str) -> None:
    """Remove what an upper layer deleted: .wh.NAME files or 0/0 character devices."""
    for folder, dirs, files in os.walk(layer_path):
        relative = os.path.relpath(folder, layer_path)
        target_folder = os.path.normpath(os.path.join(dest, relative))
        for name in files + dirs:
            source = os.path.join(folder, name)
            victim = None
            if name == OPAQUE_MARKER:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(target_folder, name))
                continue
            if name.startswith(WHITEOUT_PREFIX):
                victim = name[len(WHITEOUT_PREFIX) :]
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(target_folder, name))
            else:
                info = os.lstat(source)
                if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                    victim = name
            if victim is None:
                continue
            path = os.path.join(target_folder, victim)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


async def copy_image_path(layer_dirs: list[str], path: str, dest: str) -> bool:
    """Merge path from the layers (bottom to top) into dest; False if the image lacks it."""
    found = False
    for layer in layer_dirs:
        source = _inside(layer, path)
        if not os.path.isdir(source) or os.path.islink(source):
            continue
        found = True
        await run_async(["cp", "-a", source + "/.", dest + "/"], timeout=600)
        _apply_whiteouts(source, dest)
    if found:
        # The volume root takes the mode and owner of the image's directory.
        top = next(
            _inside(layer, path)
            for layer in reversed(layer_dirs)
            if os.path.isdir(_inside(layer, path))
        )
        info = os.stat(top)
        os.chmod(dest, stat.S_IMODE(info.st_mode))
        os.chown(dest, info.st_uid, info.st_gid)
    return found
