"""Network benchmark: TCP stream throughput over Ketch's data paths beside the floor (the same
transfer over the host's loopback), measured in the same run. (bench_run_port.py times
`docker run -d -p` until the port accepts.)

Paths: host -> published port on 127.0.0.1 (DNAT from loopback), host -> the container's bridge
address (no NAT), container -> container on a user bridge by name (embedded DNS + bridge), and
Ketch's userland proxy (what DNAT from loopback replaces).
The endpoints are set up by NetworkService exactly as for containers; the stream programs run
inside those namespaces (a container is a process in such a netns; the data path is the same).

Run as root: python3 bench/networks/bench_net.py [--mb 512] [--rounds 3]
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
STREAM = os.path.join(HERE, "stream.py")


async def run(argv: list[str]) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed")
    return out.decode().strip()


async def stream(netns: str | None, host: str, port: int, mb: int) -> float:
    prefix = ["nsenter", f"--net={netns}"] if netns else []
    return float(await run([*prefix, sys.executable, STREAM, "send", host, str(port), str(mb)]))


def serve(netns: str | None, *args: str) -> subprocess.Popen[str]:
    prefix = ["nsenter", f"--net={netns}"] if netns else []
    proc = subprocess.Popen(
        [*prefix, sys.executable, STREAM, *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


async def measure(mb: int, rounds: int) -> dict[str, list[float]]:
    from ketch.guest.daemon.config import DaemonConfig
    from ketch.guest.engine.engine import Engine
    from ketch.guest.testing.standin import stand_in_container

    root = tempfile.mkdtemp(prefix="bench-net-")
    engine = Engine(DaemonConfig(data_root=f"{root}/data", exec_root=f"{root}/run"))
    await engine.start()
    await engine.networks.create({"Name": "benchnet"})
    server_box = stand_in_container(
        uuid.uuid4().hex * 2,
        "/server",
        {"ExposedPorts": {"5001/tcp": {}}},
        {
            "NetworkMode": "benchnet",
            "PortBindings": {"5001/tcp": [{"HostIp": "", "HostPort": "15001"}]},
        },
    )
    client_box = stand_in_container(
        uuid.uuid4().hex * 2, "/client", {}, {"NetworkMode": "benchnet"}
    )
    server_ns = (await engine.networks.setup_container(server_box)).netns_path
    client_ns = (await engine.networks.setup_container(client_box)).netns_path
    server_ip = server_box.network_settings["Networks"]["benchnet"]["IPAddress"]
    floor_server = serve(None, "serve", "16001")
    box_server = serve(server_ns, "serve", "5001")
    userland = serve(None, "proxy", "17001", server_ip, "5001")
    # The client resolves "server" through the embedded DNS, as a container would.
    resolved = await run(
        [
            "nsenter",
            f"--net={client_ns}",
            sys.executable,
            "-c",
            "import dns.resolver as r;x=r.Resolver(configure=False);"
            f"x.nameservers=[{engine.networks.get('benchnet').gateway!r}];"
            "print(x.resolve('server','A')[0].address)",
        ]
    )
    results: dict[str, list[float]] = {
        "loopback": [],
        "published": [],
        "direct": [],
        "by_name": [],
        "userland": [],
    }
    try:
        for _ in range(rounds):
            results["loopback"].append(await stream(None, "127.0.0.1", 16001, mb))
            results["published"].append(await stream(None, "127.0.0.1", 15001, mb))
            results["direct"].append(await stream(None, server_ip, 5001, mb))
            results["by_name"].append(await stream(client_ns, resolved, 5001, mb))
            results["userland"].append(await stream(None, "127.0.0.1", 17001, mb))
    finally:
        for proc in (floor_server, box_server, userland):
            proc.kill()
            proc.wait()
        await engine.networks.teardown_container(server_box)
        await engine.networks.teardown_container(client_box)
        await engine.networks.remove("benchnet")
        await engine.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get("KETCH_BENCH_NETNS") != "1":
        netns = f"ketch-bench-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        try:
            subprocess.run(
                ["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True
            )
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    netns,
                    sys.executable,
                    __file__,
                    "--mb",
                    str(args.mb),
                    "--rounds",
                    str(args.rounds),
                ],
                check=True,
                env={**os.environ, "KETCH_BENCH_NETNS": "1"},
            )
        finally:
            subprocess.run(["ip", "netns", "delete", netns])
        return
    results = asyncio.run(measure(args.mb, args.rounds))
    floor = statistics.median(results["loopback"])
    print(f"{'path':<44}{'MB/s':>10}{'floor MB/s':>12}{'ratio':>8}")
    labels = {
        "published": "host -> published port 127.0.0.1 (DNAT)",
        "direct": "host -> container IP (bridge, no NAT)",
        "by_name": "container -> container by name (user bridge)",
        "userland": "host -> Ketch's userland proxy -> container",
    }
    for key, label in labels.items():
        ours = statistics.median(results[key])
        print(f"{label:<44}{ours:>10.0f}{floor:>12.0f}{ours / floor:>8.2f}")


if __name__ == "__main__":
    main()
