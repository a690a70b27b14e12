"""Links, addresses, routes and sysctls through netlink (pyroute2), plus netns files.

Everything here blocks (and pyroute2's sync API cannot run on a thread with a running event
loop): callers on the event loop use asyncio.to_thread. Work inside a container's netns is done
by moving the worker thread into it (setns) rather than with IPRoute(netns=...), which forks.
"""

import contextlib
import ctypes
import errno
import logging
import os
import random
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pyroute2 import IPRoute, NetlinkError

from ketch.guest.engine.errors import EngineError
from ketch.guest.runtime import mounts

_LIBC = ctypes.CDLL(None, use_errno=True)
# pyroute2 logs every netlink message at debug level, which would drown `dockerd --debug`.
logging.getLogger("pyroute2").setLevel(logging.WARNING)
CLONE_NEWNET = 0x40000000
LOOPBACK_INDEX = 1  # the kernel registers lo first in every namespace


def random_mac() -> str:
    """A locally administered unicast MAC, as Moby 28 gives each endpoint."""
    octets = [0x02, *(random.randrange(256) for _ in range(5))]
    return ":".join(f"{o:02x}" for o in octets)


def set_sysctl(key: str, value: str) -> None:
    """Write a sysctl of the calling process's network namespace; ignore missing keys."""
    path = "/proc/sys/" + key.replace(".", "/")
    with contextlib.suppress(FileNotFoundError, PermissionError), open(path, "w") as f:
        f.write(value)


def get_sysctl(key: str) -> str:
    try:
        with open("/proc/sys/" + key.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return ""


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(
    name: str, address: str, prefixlen: int, mtu: int = 0, route_localnet: bool = False
) -> None:
    """Create the bridge with its gateway address (idempotent) and bring it up.

    route_localnet lets loopback-published ports be DNATed out through the bridge; it also
    makes the bridge accept 127/8 from containers, which the raw-table rules drop
    (iptables.BridgeRules), so it is only on where those rules are."""
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            try:
                ipr.link("add", ifname=name, kind="bridge")
            except NetlinkError as e:
                if e.code != errno.EEXIST:
                    raise EngineError(f"failed to create bridge {name}: {e}") from e
            index = link_index(ipr, name)
        if index is None:
            raise EngineError(f"failed to create bridge {name}")
        if mtu:
            ipr.link("set", index=index, mtu=mtu)
        have = {
            (a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=2)
        }
        if (address, prefixlen) not in have:
            ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")
    set_sysctl(f"net.ipv4.conf.{name}.route_localnet", "1" if route_localnet else "0")


def delete_link(name: str) -> None:
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is not None:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", index=index)


def link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return link_index(ipr, name) is not None


def link_kind(name: str) -> str | None:
    """The kind of the link named name ("bridge", "veth", "" for lo or a physical device),
    None when there is none."""
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            return None
        (link,) = ipr.get_links(index)
        info = link.get_attr("IFLA_LINKINFO")
        return str(info.get_attr("IFLA_INFO_KIND") or "") if info is not None else ""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """Run the calling thread (a worker thread, never the event loop's) inside a netns.

    Namespaces are per thread, so a netlink socket opened here lives in that netns; this is
    ~50x faster than pyroute2's IPRoute(netns=...), which forks a helper process.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(path, os.O_RDONLY)
        try:
            _check(_LIBC.setns(target, CLONE_NEWNET), f"setns {path}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            _check(_LIBC.setns(own, CLONE_NEWNET), "setns back")
    finally:
        os.close(own)


def create_netns(path: str) -> None:
    """A new network namespace kept alive by a bind mount at path (lo is still down: attach
    brings it up, on the socket it opens there anyway)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "a"):
        pass
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_LIBC.unshare(CLONE_NEWNET), "unshare")
        try:
            try:
                mounts.mount(
                    "/proc/thread-self/ns/net",
                    path,
                    flags=mounts.MS_BIND,
                    describe=f"bind mount {path}",
                )
            except mounts.MountError as e:
                raise OSError(e.errno, e.message) from None
        finally:
            _check(_LIBC.setns(own, CLONE_NEWNET), "setns back")
    finally:
        os.close(own)


def delete_netns(path: str) -> None:
    """Unmount and remove path; the kernel destroys the namespace, with the veth pairs whose
    peers are in it, once nothing else holds it (asynchronously, off our path: deleting a veth
    ourselves waits ~25 ms for the kernel)."""
    try:
        mounts.unmount(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


@dataclass(frozen=True)
class Veth:
    """One endpoint: host_ifname on the bridge, its peer ifname (with the address) in a netns."""

    bridge: str
    host_ifname: str
    ifname: str
    address: str
    prefixlen: int
    mac: str
    gateway: str | None  # the default route, for the container's primary network only
    mtu: int = 0


def attach_endpoints(netns_path: str, veths: Sequence[Veth]) -> None:
    """Bring the netns's lo up and give it the veths: one netlink socket per side for all.

    Each peer is created directly in the target namespace: a namespace move costs the kernel
    ~25 ms (measured) against ~2 ms for the whole creation.
    """
    with IPRoute() as ipr:
        bridges: dict[str, int] = {}
        for veth in veths:
            if veth.bridge not in bridges:
                index = link_index(ipr, veth.bridge)
                if index is None:
                    raise EngineError(f"bridge {veth.bridge} not found")
                bridges[veth.bridge] = index
            _add_veth(ipr, veth, netns_path, bridges[veth.bridge])
            _hairpin(ipr, veth.host_ifname)
    with entered(netns_path), IPRoute() as ipr:
        ipr.link("set", index=LOOPBACK_INDEX, state="up")
        for veth in veths:
            index = link_index(ipr, veth.ifname)
            ipr.addr("add", index=index, address=veth.address, prefixlen=veth.prefixlen)
            ipr.link("set", index=index, state="up")
            if veth.gateway:
                with contextlib.suppress(NetlinkError):
                    ipr.route("add", dst="0.0.0.0/0", gateway=veth.gateway)


def _add_veth(ipr: IPRoute, veth: Veth, netns_path: str, bridge_index: int) -> None:
    """The pair, its host end already on the bridge and up (one request)."""
    extra = {"mtu": veth.mtu} if veth.mtu else {}
    fd = os.open(netns_path, os.O_RDONLY)
    try:

        def add() -> None:
            ipr.link(
                "add",
                ifname=veth.host_ifname,
                kind="veth",
                master=bridge_index,
                state="up",
                **extra,
                peer={"ifname": veth.ifname, "net_ns_fd": fd, "address": veth.mac, **extra},
            )

        try:
            add()
        except NetlinkError as e:
            stale = link_index(ipr, veth.host_ifname) if e.code == errno.EEXIST else None
            if stale is None:
                raise
            ipr.link("del", index=stale)  # left by a crash
            add()
    finally:
        os.close(fd)


def _hairpin(ipr: IPRoute, host_ifname: str) -> None:
    """Hairpin: a container can reach its own published port through the host's address.

    Through sysfs where it shows our namespace (a file write instead of two netlink requests);
    the random port name cannot match a link of another namespace.
    """
    try:
        with open(f"/sys/class/net/{host_ifname}/brport/hairpin_mode", "w") as f:
            f.write("1")
    except OSError:
        ipr.brport("set", index=link_index(ipr, host_ifname), mode=1)


def release_addresses(netns_path: str) -> None:
    """Remove the netns's IPv4 addresses before it is discarded: until the kernel has destroyed
    it, its veths would otherwise still answer ARP for an address handed out again."""
    with contextlib.suppress(OSError, NetlinkError), entered(netns_path), IPRoute() as ipr:
        for address in ipr.get_addr(family=socket.AF_INET):
            if address["index"] != LOOPBACK_INDEX:
                ipr.addr(
                    "del",
                    index=address["index"],
                    prefixlen=address["prefixlen"],
                    address=address.get_attr("IFA_ADDRESS"),
                )


def detach_endpoint(host_ifname: str, netns_path: str | None, ifname: str) -> None:
    """Remove a veth pair (deleting either end deletes both)."""
    delete_link(host_ifname)
    if netns_path and os.path.exists(netns_path):
        with contextlib.suppress(Exception), entered(netns_path), IPRoute() as ipr:
            index = link_index(ipr, ifname)
            if index is not None:
                ipr.link("del", index=index)
