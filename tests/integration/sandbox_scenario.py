"""Run inside a fresh network namespace by test_networks_sandbox.py: drives NetworkService as the
containers area does (setup_container/teardown_container) with processes standing in for
containers, and asserts on real veths, iptables, DNAT and the embedded DNS."""

import asyncio
import json
import subprocess
import sys
from typing import Any

from ketch.guest.daemon.config import DaemonConfig
from ketch.guest.engine.engine import Engine
from ketch.guest.engine.errors import EngineError
from ketch.guest.engine.networks import netlink
from ketch.guest.engine.networks.dns import DnsServer
from ketch.guest.testing.standin import stand_in_container


def in_netns(path: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net={path}", *argv], capture_output=True, text=True, timeout=30
    )


def fetch(url: str, netns: str | None = None) -> str:
    code = (
        f"import urllib.request;print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    )
    argv = [sys.executable, "-c", code]
    if netns:
        return in_netns(netns, *argv).stdout.strip()
    return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()


async def lookup(netns: str, server: str, name: str) -> list[str]:
    """Asynchronously: the embedded DNS server runs on this very event loop."""
    code = (
        "import dns.resolver as r;res=r.Resolver(configure=False);"
        f"res.nameservers=[{server!r}];"
        f"print(' '.join(sorted(a.address for a in res.resolve({name!r}, 'A'))))"
    )
    proc = await asyncio.create_subprocess_exec(
        "nsenter",
        f"--net={netns}",
        sys.executable,
        "-c",
        code,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode().split()


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


ECHO_CLIENT = (
    "import http.server as h\n"
    "class H(h.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers()\n"
    "        self.wfile.write(self.client_address[0].encode())\n"
    "s = h.ThreadingHTTPServer(('198.51.100.1', 8000), H)\n"
    "print('listening', flush=True)\n"
    "s.serve_forever()\n"
)


async def fetch_async(url: str, netns: str) -> str:
    code = (
        f"import urllib.request;print(urllib.request.urlopen({url!r}, timeout=3).read().decode())"
    )
    proc = await asyncio.create_subprocess_exec(
        "nsenter",
        f"--net={netns}",
        sys.executable,
        "-c",
        code,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode().strip() if proc.returncode == 0 else "unreachable"


async def listening(server: "subprocess.Popen[str]") -> None:
    """Until a server started here says it listens (its first line of output)."""
    assert server.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 30)
    assert line == "listening\n", line


async def links_without_veths(timeout: float = 10) -> str:
    """`ip -o link` once no veth is left: they go with their netns, which the kernel destroys
    asynchronously after teardown (or the last listing, on timeout)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        if "veth" not in links or asyncio.get_running_loop().time() > deadline:
            return links
        await asyncio.sleep(0.05)


async def outbound(networks: Any) -> dict[str, Any]:
    """An "outside" address in the daemon's namespace: NAT from bridges, none from --internal."""
    outside = f"{networks.engine.config.exec_root}/outside-ns"
    await asyncio.to_thread(netlink.create_netns, outside)
    subprocess.run(
        ["ip", "link", "add", "ext0", "type", "veth", "peer", "name", "ext1"], check=True
    )
    subprocess.run(["ip", "addr", "add", "198.51.100.254/24", "dev", "ext0"], check=True)
    subprocess.run(["ip", "link", "set", "ext0", "up"], check=True)
    subprocess.run(["ip", "link", "set", "ext1", "netns", outside], check=True)
    for argv in (
        ["ip", "addr", "add", "198.51.100.1/24", "dev", "ext1"],
        ["ip", "link", "set", "ext1", "up"],
    ):
        in_netns(outside, *argv).check_returncode()
    server = subprocess.Popen(
        ["nsenter", f"--net={outside}", sys.executable, "-c", ECHO_CLIENT],
        stdout=subprocess.PIPE,
        text=True,
    )
    await networks.create({"Name": "sealed", "Internal": True})
    boxes = {
        name: stand_in_container(name * 64, f"/{name}", {}, {"NetworkMode": mode})
        for name, mode in (("d", "bridge"), ("e", "sealed"))
    }
    report: dict[str, Any] = {}
    try:
        await listening(server)
        for name, box in boxes.items():
            sandbox = await networks.setup_container(box)
            report[f"outbound_{name}"] = await fetch_async(
                "http://198.51.100.1:8000/", str(sandbox.netns_path)
            )
            if name == "e":  # another user network: appnet's names are not visible
                report["dns_other_network"] = await lookup(
                    str(sandbox.netns_path), "127.0.0.11", "web2"
                )
        published_all = stand_in_container(
            "f" * 64,
            "/f",
            {"ExposedPorts": {"80/tcp": {}}},
            {"NetworkMode": "bridge", "PublishAllPorts": True},
        )
        await networks.setup_container(published_all)
        report["publish_all"] = published_all.network_settings["Ports"]
        boxes["f"] = published_all
    finally:
        server.kill()
        server.communicate()
        for box in boxes.values():
            await networks.teardown_container(box)
        await networks.remove("sealed")
        await asyncio.to_thread(netlink.delete_link, "ext0")
        await asyncio.to_thread(netlink.delete_netns, outside)
    return report


async def scenario(root: str) -> dict[str, Any]:
    engine = Engine(
        DaemonConfig(data_root=f"{root}/data", exec_root=f"{root}/run", dns=["127.0.0.1"])
    )
    await engine.start()
    # The "host's resolver": names the embedded server does not know are forwarded here.
    upstream = DnsServer(
        lambda _client, name: ["192.0.2.7"] if name == "example.test" else None, lambda _client: []
    )
    await upstream.listen("127.0.0.1")
    networks = engine.networks
    report: dict[str, Any] = {}
    await networks.create({"Name": "appnet", "IPAM": {"Config": [{"Subnet": "10.40.0.0/24"}]}})
    web = stand_in_container(
        "a" * 64,
        "/web",
        {"ExposedPorts": {"80/tcp": {}}},
        {
            "NetworkMode": "appnet",
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "18080"}]},
        },
    )
    web.network_settings["Networks"] = {"appnet": {"Aliases": ["www"]}}
    client = stand_in_container("b" * 64, "/client", {}, {"NetworkMode": "appnet"})
    web_box = await networks.setup_container(web)
    client_box = await networks.setup_container(client)
    report["web_ip"] = web.network_settings["Networks"]["appnet"]["IPAddress"]
    report["ports"] = web.network_settings["Ports"]
    report["resolv"] = read(client_box.resolv_conf_path)
    report["hosts"] = read(web_box.hosts_path)
    server = subprocess.Popen(
        [
            "nsenter",
            f"--net={web_box.netns_path}",
            sys.executable,
            "-c",
            "import http.server as h,os;os.chdir('/');"
            "open('/tmp/ketch-sbx-index','w').write('hello');"
            "s=h.ThreadingHTTPServer(('',80),h.SimpleHTTPRequestHandler);"
            "print('listening',flush=True);s.serve_forever()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        await listening(server)
        report["loopback"] = fetch("http://127.0.0.1:18080/tmp/ketch-sbx-index")
        report["c2c"] = fetch(
            f"http://{report['web_ip']}/tmp/ketch-sbx-index", client_box.netns_path
        )
        report["dns"] = {
            name: await lookup(client_box.netns_path, "127.0.0.11", name)
            for name in ("web", "www", "a" * 12, "WEB")
        }
        networks.rename_container(web, "/web2")
        report["forwarded"] = await lookup(client_box.netns_path, "127.0.0.11", "example.test")
        report["dns_renamed"] = await lookup(client_box.netns_path, "127.0.0.11", "web2")
        report.update(await outbound(networks))
        other = stand_in_container(
            "c" * 64,
            "/other",
            {},
            {
                "NetworkMode": "bridge",
                "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "18080"}]},
            },
        )
        try:
            await networks.setup_container(other)
        except EngineError as e:
            report["conflict"] = e.message
        try:
            await networks.remove("appnet")
        except EngineError as e:
            report["rm_in_use"] = (e.status, e.message)
    finally:
        server.kill()
        server.communicate()
    await networks.teardown_container(web)
    await networks.teardown_container(client)
    report["after_teardown"] = subprocess.run(
        ["iptables-save", "-t", "nat"], capture_output=True, text=True
    ).stdout
    report["links"] = await links_without_veths()
    await networks.remove("appnet")
    await engine.close()
    await upstream.close()
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(scenario(sys.argv[1]))))
