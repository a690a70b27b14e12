"""Living under systemd without libsystemd: socket activation (sd_listen_fds) and readiness
notification (sd_notify), both plain environment + socket protocols.

- Activation: systemd passes the listening sockets as fds 3.. with LISTEN_PID (must be us),
  LISTEN_FDS (how many) and LISTEN_FDNAMES (colon-separated FileDescriptorName=s).
- Notification: one datagram ("READY=1", "STOPPING=1", ...) to the unix socket named by
  NOTIFY_SOCKET ('@' = the abstract namespace).
"""

import os
import socket
from collections.abc import MutableMapping

LISTEN_FDS_START = 3
ACTIVATION_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivatedSocket:
    """One socket systemd passed: its fd number and the name the unit gave it."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.socket = socket.socket(fileno=fd)

    def __repr__(self) -> str:
        return f"ActivatedSocket(fd={self.fd}, name={self.name!r})"


def listen_fds(environ: MutableMapping[str, str] | None = None) -> list[ActivatedSocket]:
    """The sockets passed to this process, once: the variables are removed (as sd_listen_fds
    with unset_environment) so children (conmon, shims) neither see nor inherit them, and the
    fds are made close-on-exec."""
    env = os.environ if environ is None else environ
    values = {name: env.pop(name, "") for name in ACTIVATION_VARIABLES}
    if not values["LISTEN_PID"].isdigit() or int(values["LISTEN_PID"]) != os.getpid():
        return []
    if not values["LISTEN_FDS"].isdigit():
        return []
    count = int(values["LISTEN_FDS"])
    names = values["LISTEN_FDNAMES"].split(":") if values["LISTEN_FDNAMES"] else []
    activated = []
    for index in range(count):
        fd = LISTEN_FDS_START + index
        os.set_inheritable(fd, False)
        activated.append(ActivatedSocket(fd, names[index] if index < len(names) else "unknown"))
    return activated


def select(activated: list[ActivatedSocket], address: str) -> list[ActivatedSocket]:
    """The sockets `-H fd://<address>` means, as Moby: all for "" or "*", else the one with
    that fd number; we also accept a FileDescriptorName. Raises ValueError with Moby's text."""
    if not activated:
        raise ValueError(
            "no sockets found via socket activation: make sure the service was started by systemd"
        )
    if address in ("", "*"):
        return activated
    if address.isdigit():
        chosen = [s for s in activated if s.fd == int(address)]
        if not chosen:
            raise ValueError(
                f"too few socket activated files passed in by systemd: "
                f"fd {address} not among {[s.fd for s in activated]}"
            )
        return chosen
    chosen = [s for s in activated if s.name == address]
    if not chosen:
        raise ValueError(
            f"no socket activated file named {address!r} "
            f"(passed: {', '.join(s.name for s in activated)})"
        )
    return chosen


def notify(state: str, environ: MutableMapping[str, str] | None = None) -> bool:
    """Sends state (e.g. "READY=1") to the service manager; False when there is none."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            return False  # the manager went away: readiness is advisory
    return True
