"""The real docker CLI against a VM's dockerd, through an SSH-forwarded port."""

import os
import subprocess

import ketchvm

from ketch.guest.testing.daemon import DOCKER_CLI


def docker(port: int, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DOCKER_HOST": f"tcp://127.0.0.1:{port}",
        "DOCKER_CONFIG": "/nonexistent-ketch-vm-test",
    }
    return subprocess.run(
        [DOCKER_CLI, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def docker_images(vm: ketchvm.VM) -> list[str]:
    forwarder = ketchvm.TcpForwarder(vm, 2375)
    try:
        result = docker(forwarder.port, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
    finally:
        forwarder.close()
    assert result.returncode == 0, result.stderr
    return sorted(result.stdout.split())
