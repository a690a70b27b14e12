"""ketch ssh [cmd ...]"""

import argparse
import os
import shutil
import sys

from ketch.host.instance import Instance

NAME, HELP = "ssh", "a shell (or a command) in the VM"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run")


def run(args: argparse.Namespace) -> int:
    instance = Instance(args.name)
    port = instance.read_state().get("ssh_port")
    if not instance.qemu_pid() or not port:
        print(f"ketch: {instance.name} is not running (run `ketch start`)", file=sys.stderr)
        return 1
    ssh = shutil.which("ssh")
    if ssh is not None:
        # OpenSSH gives the interactive niceties (pty, escape, window size) for free.
        tty = ["-t"] if sys.stdin.isatty() else []
        os.execv(ssh, [ssh, "-F", str(instance.ssh_config), *tty, "ketch", *args.cmd])
    from ketch.host.ssh import SshSession  # paramiko: ~0.4 s that other commands need not pay

    session = SshSession("127.0.0.1", int(port), instance.ssh_key)
    try:
        stdin = b"" if sys.stdin.isatty() else sys.stdin.buffer.read()
        status, out, err = session.exec(" ".join(args.cmd) or "sh -l", stdin=stdin)
    finally:
        session.close()
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    return status
