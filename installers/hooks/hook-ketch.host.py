"""ketch's own package metadata (ketch version reads it when present) and the host agent,
which `ketch start` spawns by module name."""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = ["ketch.host.agent"]
try:
    datas = copy_metadata("ketch")
except Exception:  # not pip-installed (a bare checkout): the version constant suffices
    datas = []
