"""What state an instance is in, from its instance directory alone (used by status, list,
start and doctor)."""

import contextlib
import dataclasses
from typing import Any

from ketch.host.config import ConfigError, resolve
from ketch.host.driver import driver_for
from ketch.host.forward.docker_api import get_json
from ketch.host.instance import Instance

RUNNING, STOPPED, DEGRADED = "running", "stopped", "degraded"


@dataclasses.dataclass
class InstanceStatus:
    name: str
    status: str
    detail: str
    agent_pid: int | None
    qemu_pid: int | None
    vm: str
    docker_host: str
    docker_answers: bool
    ssh_port: int | None
    accel: str | None
    config: dict[str, Any]
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def docker_answers(instance: Instance) -> bool:
    with contextlib.suppress(OSError, LookupError, ValueError):
        get_json(instance.docker_sock, "/version", timeout=5)
        return True
    return False


def instance_status(instance: Instance, probe_vm: bool = True) -> InstanceStatus:
    agent, qemu = instance.agent_pid(), instance.qemu_pid()
    state = instance.read_state()
    try:
        config = resolve(instance.config_file, instance.name, {})
        config_json = config.to_json()
        vm = (
            driver_for(instance, config).status()
            if (probe_vm and qemu)
            else ("running" if qemu else "stopped")
        )
    except ConfigError as e:
        config_json, vm = {}, f"unknown ({e})"
    answers = bool(agent and qemu) and docker_answers(instance)
    if agent and qemu and answers:
        status, detail = RUNNING, "docker is ready"
    elif agent and qemu:
        status, detail = DEGRADED, "starting, or docker.sock does not answer"
    elif qemu:
        status, detail = DEGRADED, "the host agent is not running (run `ketch start`)"
    elif agent:
        status, detail = DEGRADED, "the VM is not running (run `ketch start`)"
    else:
        status = STOPPED
        detail = "stopped" + (
            f" (last error: {state['last_error']})" if state.get("last_error") else ""
        )
    return InstanceStatus(
        name=instance.name,
        status=status,
        detail=detail,
        agent_pid=agent,
        qemu_pid=qemu,
        vm=vm,
        docker_host=instance.docker_host,
        docker_answers=answers,
        ssh_port=state.get("ssh_port"),
        accel=state.get("accel"),
        config=config_json,
        last_error=state.get("last_error"),
    )
