"""Disk usage of a directory tree, as Moby's directory.Size counts it."""

import os
import stat


def directory_size(root: str) -> int:
    """Bytes of everything but directories, a hard-linked file once; 0 for a missing tree.

    Entries vanishing while the tree is walked (a running container's upperdir) are skipped."""
    total = 0
    stack = [root]
    seen: set[tuple[int, int]] = set()
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
