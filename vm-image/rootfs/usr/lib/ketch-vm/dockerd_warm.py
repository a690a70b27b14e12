"""dockerd, imported ahead of its start: the VM's boot snapshot is taken at that point.

Under TCG dockerd's imports take most of the boot (aiohttp, pyroute2, dnspython). The agent
starts this process first; it imports dockerd and everything dockerd's start would import
lazily, writes "warm" on the file descriptor named by argv[1], and then waits on stdin for one
JSON line: dockerd's arguments. A VM resumed from the snapshot continues from the wait, so the
host's per-boot config (and the data disk) reach dockerd only after the go.

    python3 dockerd_warm.py READY_FD    (stdin: a pipe from the agent)
"""

import concurrent.futures.thread  # noqa: F401  (the engine's first executor job imports it)
import json
import os
import random
import sys

from setproctitle import setproctitle

from ketch.guest.daemon import main as dockerd
from ketch.guest.runtime import select


def main() -> int:
    setproctitle("dockerd (starting)")
    # `<runtime> --version` (cached per path) answers every /version and /info: an exec costs
    # 0.1-0.2 s under TCG, so it runs now rather than on the host's first docker call.
    for path in select.available_runtimes({}).values():
        select.runtime_version(path)
    ready_fd = int(sys.argv[1])
    os.write(ready_fd, b"warm\n")
    os.close(ready_fd)
    line = sys.stdin.readline()
    if not line:
        return 1  # the agent went away before the go
    argv = [str(arg) for arg in json.loads(line)]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # A snapshot restored twice would otherwise replay the same "random" choices (names).
    random.seed()
    sys.argv = ["dockerd", *argv]
    return dockerd.main(argv)


if __name__ == "__main__":
    sys.exit(main())
