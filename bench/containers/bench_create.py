"""Create latency: POST /containers/create with the body `docker create` sends, through the raw
socket (decoding, validation, the record written to disk; no start). The code measured is the
one `ketch.guest` imports (set PYTHONPATH to compare two trees).

Run as root: python3 bench/containers/bench_create.py [--creates N]
"""

import argparse
import json
import statistics
import time

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox


def cli_body(image: str) -> dict[str, object]:
    """What docker CLI 28 sends for `docker create -p 127.0.0.1::80 -m 64m IMAGE true`."""
    return {
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "ExposedPorts": {"80/tcp": {}},
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": None,
        "Cmd": ["true"],
        "Image": image,
        "Volumes": None,
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": {},
        "HostConfig": {
            "Binds": None,
            "ContainerIDFile": "",
            "LogConfig": {"Type": "", "Config": {}},
            "NetworkMode": "default",
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
            "AutoRemove": False,
            "VolumeDriver": "",
            "VolumesFrom": None,
            "ConsoleSize": [0, 0],
            "CapAdd": None,
            "CapDrop": None,
            "CgroupnsMode": "",
            "Dns": [],
            "DnsOptions": [],
            "DnsSearch": [],
            "ExtraHosts": None,
            "GroupAdd": None,
            "IpcMode": "",
            "Cgroup": "",
            "Links": None,
            "OomScoreAdj": 0,
            "PidMode": "",
            "Privileged": False,
            "PublishAllPorts": False,
            "ReadonlyRootfs": False,
            "SecurityOpt": None,
            "UTSMode": "",
            "UsernsMode": "",
            "ShmSize": 0,
            "Isolation": "",
            "CpuShares": 0,
            "Memory": 64 << 20,
            "NanoCpus": 0,
            "CgroupParent": "",
            "BlkioWeight": 0,
            "BlkioWeightDevice": [],
            "BlkioDeviceReadBps": [],
            "BlkioDeviceWriteBps": [],
            "BlkioDeviceReadIOps": [],
            "BlkioDeviceWriteIOps": [],
            "CpuPeriod": 0,
            "CpuQuota": 0,
            "CpuRealtimePeriod": 0,
            "CpuRealtimeRuntime": 0,
            "CpusetCpus": "",
            "CpusetMems": "",
            "Devices": [],
            "DeviceCgroupRules": None,
            "DeviceRequests": None,
            "MemoryReservation": 0,
            "MemorySwap": 0,
            "MemorySwappiness": None,
            "OomKillDisable": None,
            "PidsLimit": None,
            "Ulimits": [],
            "CpuCount": 0,
            "CpuPercent": 0,
            "IOMaximumIOps": 0,
            "IOMaximumBandwidth": 0,
            "MaskedPaths": None,
            "ReadonlyPaths": None,
        },
        "NetworkingConfig": {"EndpointsConfig": {}},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=200)
    args = parser.parse_args()
    daemon = DaemonProcess().start()
    try:
        body = json.dumps(cli_body(load_busybox(daemon))).encode()
        headers = {"Content-Type": "application/json"}
        times = []
        for i in range(args.creates + 10):
            start = time.perf_counter()
            status, _, answer = daemon.request("POST", "/containers/create", body, headers)
            elapsed = time.perf_counter() - start
            assert status == 201, answer
            if i >= 10:  # the first creates warm caches and the image lookup
                times.append(elapsed * 1000)
        times.sort()
        print(
            f"create: median {statistics.median(times):.2f} ms, "
            f"p90 {times[int(len(times) * 0.9)]:.2f} ms over {len(times)}"
        )
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    main()
