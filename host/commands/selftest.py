"""ketch selftest: imports and exercises every native piece the product needs, so a frozen
build proves it is complete (a missing C extension fails here, not mid-`ketch start`)."""

import argparse
import asyncio
import importlib
import importlib.util
import sys
import time
from collections.abc import Callable

NAME, HELP = "selftest", "check that this build's native pieces load and work"


def aiohttp_round_trip() -> str:
    """A request through aiohttp's C parser on both ends, over loopback."""
    from aiohttp import ClientSession, http_parser, web

    if http_parser.HttpRequestParser is not getattr(http_parser, "HttpRequestParserC", None):
        raise RuntimeError("aiohttp fell back to its pure-Python HTTP parser")

    async def exchange() -> str:
        app = web.Application()

        async def ping(request: web.Request) -> web.Response:
            return web.Response(text="OK")

        app.router.add_get("/_ping", ping)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            async with (
                ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/_ping") as response,
            ):
                return await response.text()
        finally:
            await runner.cleanup()

    answer = asyncio.run(exchange())
    if answer != "OK":
        raise RuntimeError(f"unexpected answer {answer!r}")
    return "C parser, loopback GET /_ping -> OK"


def speedups() -> str:
    names = [
        "multidict._multidict",
        "yarl._quoting_c",
        "propcache._helpers_c",
        "frozenlist._frozenlist",
        "aiohttp._http_writer",
        "aiohttp._websocket.reader_c",
        "msgspec._core",
    ]
    for name in names:
        importlib.import_module(name)
    return ", ".join(names)


def paramiko_keys() -> str:
    """cryptography (ECDSA), bcrypt (OpenSSH key KDF) and PyNaCl (ed25519), via paramiko."""
    import bcrypt
    import nacl.signing
    import paramiko

    key = paramiko.ECDSAKey.generate()
    signature = key.sign_ssh_data(b"ketch")
    signature.rewind()
    if not key.verify_ssh_sig(b"ketch", signature):
        raise RuntimeError("ECDSA signature did not verify")
    if len(bcrypt.kdf(b"ketch", b"saltsalt", 32, 1, ignore_few_rounds=True)) != 32:
        raise RuntimeError("bcrypt.kdf returned the wrong length")
    signing = nacl.signing.SigningKey.generate()
    signing.verify_key.verify(signing.sign(b"ketch"))
    return f"paramiko {paramiko.__version__}: ecdsa sign/verify, bcrypt kdf, nacl ed25519"


def qemu_qmp() -> str:
    from qemu.qmp import QMPClient

    QMPClient("selftest")
    return "QMPClient"


def zstd() -> str:
    import zstandard

    data = b"ketch" * 1000
    packed = zstandard.ZstdCompressor().compress(data)
    if zstandard.ZstdDecompressor().decompress(packed) != data:
        raise RuntimeError("zstd round trip differs")
    return f"zstandard {zstandard.__version__}"


def dns_message() -> str:
    import dns.message

    return f"{len(dns.message.make_query('ketch.internal', 'AAAA').to_wire())}-byte query"


def netlink() -> str:
    import pyroute2.netlink.rtnl.ifinfmsg as ifinfmsg
    from pyroute2 import IPRoute  # noqa: F401

    if "vxlan" not in ifinfmsg.data_plugins:
        raise RuntimeError("pyroute2's link-kind plugins were not found")
    return f"{len(ifinfmsg.data_plugins)} link-kind plugins"


def entry_modules() -> str:
    """The modules spawned or run by name: the host agent (`ketch start`) and dockerd."""
    for name in ("ketch.host.agent", "ketch.guest.daemon.main", "setproctitle", "platformdirs"):
        if importlib.util.find_spec(name) is None:
            raise RuntimeError(f"{name} is missing")
        importlib.import_module(name)
    return "ketch.host.agent, ketch.guest.daemon.main"


def dashboard_assets() -> str:
    """The dashboard's templates and static files, which it opens beside its modules."""
    from ketch.host.desktop import server

    missing = [name for name in ("templates", "static") if not (server.HERE / name).is_dir()]
    if missing:
        raise RuntimeError(f"missing beside {server.HERE}: {', '.join(missing)}")
    count = sum(1 for _ in (server.HERE / "templates").iterdir())
    return f"{count} templates, static files"


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("aiohttp", aiohttp_round_trip),
    ("C speedups", speedups),
    ("ssh crypto", paramiko_keys),
    ("qemu.qmp", qemu_qmp),
    ("zstandard", zstd),
    ("dnspython", dns_message),
    ("entry modules", entry_modules),
    ("dashboard", dashboard_assets),
]
if sys.platform.startswith("linux"):
    CHECKS.append(("pyroute2", netlink))


def build_kind() -> str:
    if not getattr(sys, "frozen", False):
        return f"source install (Python {sys.version.split()[0]}, {sys.executable})"
    onefile = "_MEI" in getattr(sys, "_MEIPASS", "")
    return f"frozen {'one-file' if onefile else 'onedir'} build ({sys.executable})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print(f"ketch selftest: {build_kind()}")
    failed = 0
    for name, check in CHECKS:
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as e:  # every failure is the finding: report it and go on
            detail, ok = f"{type(e).__name__}: {e}", False
        failed += not ok
        elapsed = (time.monotonic() - started) * 1000
        print(f"[{'ok  ' if ok else 'FAIL'}] {name}: {detail} ({elapsed:.0f} ms)")
    return 1 if failed else 0
