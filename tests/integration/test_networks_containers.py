"""Real containers on real bridges: name DNS, aliases, links, published ports, --internal,
connect/disconnect, rm while in use, and a daemon restart that keeps it all."""

import json
import subprocess
import sys
import time
import uuid

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox

# A one-shot HTTP answer per connection, served with busybox nc (wget crashes in the image).
HTTP_LOOP = 'while true; do echo -e "HTTP/1.0 200 OK\\r\\n\\r\\nhello-$0" | nc -l -p 80; done'
# Client side: `get HOST PORT` retries while the server's nc restarts between connections.
GET = (
    'get() { for t in 1 2 3 4 5 6 7 8 9 10; do r=$(nc -w 2 "$1" "$2" </dev/null | tail -1);'
    ' [ -n "$r" ] && { echo "$r"; return; }; sleep 0.2; done; }; '
)


def serve(daemon: DaemonProcess, busybox: str, name: str, *args: str) -> str:
    return daemon.docker(
        "run", "-d", "--name", name, *args, busybox, "sh", "-c", HTTP_LOOP, name
    ).stdout.strip()


def http_from_netns(daemon: DaemonProcess, host: str, port: int, attempts: int = 50) -> str:
    """A request from the daemon's namespace (where published ports and bridges live)."""
    code = (
        "import socket,sys\n"
        f"s=socket.create_connection(({host!r},{port}),timeout=5)\n"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n');data=b''\n"
        "while (c:=s.recv(4096)): data+=c\n"
        "print(data.decode().split('\\r\\n\\r\\n')[-1].strip())\n"
    )
    for _ in range(attempts):
        result = daemon.in_netns(sys.executable, "-c", code, check=False)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip()
        time.sleep(0.1)
    return "unreachable"


def rules(daemon: DaemonProcess) -> list[str]:
    return sorted(
        line
        for line in daemon.in_netns("iptables-save").stdout.splitlines()
        if line.startswith("-A ")
    )


@pytest.fixture(scope="module")
def appnet(daemon: DaemonProcess, busybox: str):  # type: ignore[no-untyped-def]
    daemon.docker("network", "create", "appnet")
    serve(
        daemon,
        busybox,
        "web",
        "--network",
        "appnet",
        "--network-alias",
        "www",
        "-p",
        "18080:80",
        "-p",
        "127.0.0.1:18081:80",
        "-p",
        "18082-18083:81/udp",
    )
    web_ip = daemon.docker(
        "inspect", "-f", "{{.NetworkSettings.Networks.appnet.IPAddress}}", "web"
    ).stdout.strip()
    assert http_from_netns(daemon, web_ip, 80) == "hello-web"  # its nc loop is listening
    yield "appnet"
    daemon.docker("rm", "-f", "web", check=False)
    daemon.docker("network", "rm", "appnet", check=False)


def test_containers_resolve_each_other_by_name_and_short_id(
    daemon: DaemonProcess, busybox: str, appnet: str
) -> None:
    short_id = daemon.docker("inspect", "-f", "{{.Id}}", "web").stdout.strip()[:12]
    script = (
        GET
        + "grep nameserver /etc/resolv.conf; for n in web "
        + short_id
        + "; do get $n 80; done; ping -c1 -W2 web >/dev/null && "
        "echo pinged; grep -w gw /etc/hosts"
    )
    out = daemon.docker(
        "run",
        "--rm",
        "--network",
        appnet,
        "--add-host",
        "gw:host-gateway",
        busybox,
        "sh",
        "-c",
        script,
    ).stdout.split("\n")
    assert out[0] == "nameserver 127.0.0.11"
    assert out[1:5] == ["hello-web", "hello-web", "pinged", "172.17.0.1\tgw"]


def test_run_time_alias_and_static_ip(daemon: DaemonProcess, busybox: str, appnet: str) -> None:
    out = daemon.docker("run", "--rm", "--network", appnet, busybox, "nslookup", "www").stdout
    web_ip = daemon.docker(
        "inspect", "-f", "{{.NetworkSettings.Networks.appnet.IPAddress}}", "web"
    ).stdout.strip()
    assert web_ip in out
    subnet = daemon.docker(
        "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", appnet
    ).stdout.strip()
    static = subnet.rsplit(".", 1)[0] + ".200"
    got = daemon.docker(
        "run",
        "--rm",
        "--network",
        appnet,
        "--ip",
        static,
        busybox,
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ).stdout
    assert f"{static}/" in got


def test_published_ports_answer_on_loopback_and_docker_port(
    daemon: DaemonProcess, appnet: str
) -> None:
    assert http_from_netns(daemon, "127.0.0.1", 18080) == "hello-web"
    assert http_from_netns(daemon, "127.0.0.1", 18081) == "hello-web"
    # Hairpin: the container reaches its own published port through a host address.
    hairpin = daemon.docker(
        "exec", "web", "sh", "-c", GET + "get $(ip route | awk '/default/ {print $3}') 18080"
    ).stdout.strip()
    assert hairpin == "hello-web"
    port = daemon.docker("port", "web").stdout.splitlines()
    assert "80/tcp -> 0.0.0.0:18080" in port and "80/tcp -> 127.0.0.1:18081" in port
    assert "80/tcp -> [::]:18080" in port  # as Moby: any-address bindings hold [::] too
    assert http_from_netns(daemon, "::1", 18080) == "hello-web"
    assert "81/udp -> 0.0.0.0:18082" in port
    ports = json.loads(
        daemon.docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", "web").stdout
    )
    assert {"HostIp": "127.0.0.1", "HostPort": "18081"} in ports["80/tcp"]


def test_port_conflict_is_moby_s_error(daemon: DaemonProcess, busybox: str, appnet: str) -> None:
    result = daemon.docker(
        "run", "-d", "--name", "clash", "-p", "18080:80", busybox, "sleep", "30", check=False
    )
    try:
        assert result.returncode != 0
        assert "Bind for 0.0.0.0:18080 failed: port is already allocated" in result.stderr
    finally:
        daemon.docker("rm", "-f", "clash", check=False)


def test_network_in_use_cannot_be_removed(daemon: DaemonProcess, appnet: str) -> None:
    result = daemon.docker("network", "rm", appnet, check=False)
    assert result.returncode == 1
    assert "has active endpoints" in result.stderr


def test_connect_and_disconnect_a_running_container(
    daemon: DaemonProcess, busybox: str, appnet: str
) -> None:
    daemon.docker("network", "create", "--subnet", "10.66.0.0/24", "side")
    daemon.docker("run", "-d", "--name", "joiner", "--network", appnet, busybox, "sleep", "60")
    try:
        daemon.docker("network", "connect", "--ip", "10.66.0.50", "--alias", "j2", "side", "joiner")
        doc = json.loads(daemon.docker("inspect", "joiner").stdout)[0]
        assert doc["NetworkSettings"]["Networks"]["side"]["IPAddress"] == "10.66.0.50"
        side = json.loads(daemon.docker("network", "inspect", "side").stdout)[0]
        assert side["Containers"][doc["Id"]]["IPv4Address"] == "10.66.0.50/24"
        pid = doc["State"]["Pid"]
        addrs = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "ip", "-o", "-4", "addr"],
            capture_output=True,
            text=True,
        ).stdout
        assert "10.66.0.50/24" in addrs
        # Name and alias resolve live on the network just joined.
        out = daemon.docker(
            "run",
            "--rm",
            "--network",
            "side",
            busybox,
            "sh",
            "-c",
            "ping -c1 -W2 j2 && ping -c1 -W2 joiner",
        ).stdout
        assert out.count("10.66.0.50") >= 2
        daemon.docker("network", "disconnect", "side", "joiner")
        addrs = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "ip", "-o", "-4", "addr"],
            capture_output=True,
            text=True,
        ).stdout
        assert "10.66.0.50" not in addrs
        assert (
            "side"
            not in json.loads(daemon.docker("inspect", "joiner").stdout)[0]["NetworkSettings"][
                "Networks"
            ]
        )
    finally:
        daemon.docker("rm", "-f", "joiner", check=False)
        daemon.docker("network", "rm", "side", check=False)


def test_default_bridge_has_no_name_dns_but_links_work(daemon: DaemonProcess, busybox: str) -> None:
    serve(daemon, busybox, "linked")
    try:
        out = daemon.docker(
            "run",
            "--rm",
            "--link",
            "linked:db",
            busybox,
            "sh",
            "-c",
            GET + "grep -w db /etc/hosts >/dev/null && get db 80;"
            " nslookup linked >/dev/null 2>&1 || echo no-dns",
        ).stdout.split()
        assert out == ["hello-linked", "no-dns"]
    finally:
        daemon.docker("rm", "-f", "linked")


ECHO_PEER = (
    "import socket\n"
    "srv = socket.create_server(('198.51.100.1', 8000))\n"
    "print('listening', flush=True)\n"
    "while True:\n"
    "    conn, peer = srv.accept()\n"
    "    conn.sendall(peer[0].encode() + b'\\n')\n"
    "    conn.close()\n"
)


@pytest.fixture
def outside(daemon: DaemonProcess):  # type: ignore[no-untyped-def]
    """A namespace beyond the daemon's, 198.51.100.1, that echoes the source address it sees."""
    name = f"ketch-out-{uuid.uuid4().hex[:8]}"
    assert daemon.netns is not None
    veth = f"ko{uuid.uuid4().hex[:8]}"
    steps = [
        ["ip", "netns", "add", name],
        [
            "ip",
            "link",
            "add",
            veth,
            "netns",
            daemon.netns,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            name,
        ],
        ["ip", "-n", daemon.netns, "addr", "add", "198.51.100.254/24", "dev", veth],
        ["ip", "-n", daemon.netns, "link", "set", veth, "up"],
        ["ip", "-n", name, "addr", "add", "198.51.100.1/24", "dev", "eth0"],
        ["ip", "-n", name, "link", "set", "eth0", "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
    ]
    for argv in steps:
        subprocess.run(argv, check=True)
    server = subprocess.Popen(
        ["ip", "netns", "exec", name, sys.executable, "-c", ECHO_PEER],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdout.readline() == "listening\n"
    yield "198.51.100.1"
    server.kill()
    server.communicate()
    subprocess.run(["ip", "-n", daemon.netns, "link", "del", veth], check=False)
    subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.mark.host_only("adds a namespace beyond the daemon's network namespace")
def test_default_bridge_masquerades_outbound_and_internal_blocks_it(
    daemon: DaemonProcess, busybox: str, outside: str
) -> None:
    probe = f"nc -w 2 {outside} 8000 </dev/null || echo blocked"
    assert (
        daemon.docker("run", "--rm", busybox, "sh", "-c", probe).stdout.strip() == "198.51.100.254"
    )
    daemon.docker("network", "create", "--internal", "sealed")
    try:
        assert (
            daemon.docker(
                "run", "--rm", "--network", "sealed", busybox, "sh", "-c", probe
            ).stdout.strip()
            == "blocked"
        )
    finally:
        daemon.docker("network", "rm", "sealed")


@pytest.mark.timeout(180)
def test_restart_keeps_networks_addresses_and_ports(make_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon = make_daemon().start()
    busybox = load_busybox(daemon)
    daemon.docker("network", "create", "keep")
    serve(daemon, busybox, "kept", "--network", "keep", "-p", "19090:80", "--stop-timeout", "1")
    ip = daemon.docker(
        "inspect", "-f", "{{.NetworkSettings.Networks.keep.IPAddress}}", "kept"
    ).stdout.strip()
    assert http_from_netns(daemon, "127.0.0.1", 19090) == "hello-kept"
    before = rules(daemon)
    daemon.restart()
    assert http_from_netns(daemon, "127.0.0.1", 19090) == "hello-kept"
    daemon.kill()
    daemon.start()
    assert rules(daemon) == before
    assert http_from_netns(daemon, "127.0.0.1", 19090) == "hello-kept"
    daemon.docker("restart", "-t", "1", "kept")
    assert (
        daemon.docker(
            "inspect", "-f", "{{.NetworkSettings.Networks.keep.IPAddress}}", "kept"
        ).stdout.strip()
        == ip
    )
    assert http_from_netns(daemon, "127.0.0.1", 19090) == "hello-kept"
    out = daemon.docker(
        "run", "--rm", "--network", "keep", busybox, "sh", "-c", GET + "get kept 80"
    ).stdout.strip()
    assert out == "hello-kept"
    daemon.docker("rm", "-f", "kept")
    assert not any("19090" in rule for rule in rules(daemon))


@pytest.mark.timeout(120)
def test_without_iptables_a_userland_proxy_publishes(make_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon = make_daemon(config={"iptables": False}).start()
    busybox = load_busybox(daemon)
    serve(daemon, busybox, "proxied", "-p", "19191:80", "--stop-timeout", "1")
    assert rules(daemon) == []
    assert http_from_netns(daemon, "127.0.0.1", 19191) == "hello-proxied"
    daemon.docker("rm", "-f", "proxied")
    assert http_from_netns(daemon, "127.0.0.1", 19191, attempts=2) == "unreachable"
    daemon.kill()


@pytest.fixture
def host_listener(daemon: DaemonProcess):  # type: ignore[no-untyped-def]
    """A TCP listener in the daemon's namespace (the containers' host); yields its port."""
    code = (
        "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',0))\ns.listen()\n"
        "print(s.getsockname()[1],flush=True)\ntime.sleep(300)\n"
    )
    assert daemon.netns is not None
    with subprocess.Popen(
        ["ip", "netns", "exec", daemon.netns, sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            yield int(proc.stdout.readline())
        finally:
            proc.kill()


def syn_probe(daemon: DaemonProcess, container: str, network: str, dst: str, port: int) -> str:
    """A raw SYN from the container to dst:port through its gateway's MAC (CAP_NET_RAW)."""
    doc = json.loads(daemon.docker("inspect", container).stdout)[0]
    endpoint = doc["NetworkSettings"]["Networks"][network]
    links = json.loads(daemon.in_netns("ip", "-j", "addr").stdout)
    [gateway_mac] = [
        link["address"]
        for link in links
        for addr in link.get("addr_info", [])
        if addr.get("local") == endpoint["Gateway"]
    ]
    return subprocess.run(
        [
            "nsenter",
            f"--net=/proc/{doc['State']['Pid']}/ns/net",
            sys.executable,
            "-m",
            "ketch.guest.testing.rawsyn",
            "eth0",
            gateway_mac,
            endpoint["IPAddress"],
            dst,
            str(port),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()


@pytest.mark.parametrize("network", ["bridge", "appnet"])
def test_containers_cannot_reach_host_loopback(
    daemon: DaemonProcess, busybox: str, appnet: str, host_listener: int, network: str
) -> None:
    name = f"lo-probe-{network}"
    daemon.docker("run", "-d", "--name", name, "--network", network, busybox, "sleep", "60")
    try:
        # The probe works: the host answers it on the gateway address ...
        gateway = daemon.docker(
            "inspect", "-f", f"{{{{.NetworkSettings.Networks.{network}.Gateway}}}}", name
        ).stdout.strip()
        assert syn_probe(daemon, name, network, gateway, host_listener) == "syn-ack"
        # ... but never on 127.0.0.1, though the bridges route loopback for published ports.
        assert syn_probe(daemon, name, network, "127.0.0.1", host_listener) == "no answer"
    finally:
        daemon.docker("rm", "-f", name)
    assert http_from_netns(daemon, "127.0.0.1", 18081) == "hello-web"
