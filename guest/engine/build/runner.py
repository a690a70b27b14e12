"""RUN steps: a container from the current image (through the container service), its output
streamed into the build stream, its overlay upperdir committed as the step's layer."""

import asyncio
import codecs
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.build import stream
from ketch.guest.engine.containers.attach import Attachment, AttachOptions

if TYPE_CHECKING:
    from ketch.guest.engine.build.builder import Builder

OUTPUT_GRACE_SECONDS = 10


@dataclass
class RunResult:
    container_id: str
    exit_code: int
    upper_dir: str


def container_body(builder: "Builder", argv: list[str], args: dict[str, str]) -> dict[str, Any]:
    assert builder.state is not None and builder.image is not None
    config = builder.state.config
    options = builder.options
    host_config: dict[str, Any] = {"NetworkMode": options.network_mode or "default"}
    for key, value in (
        ("Memory", options.memory),
        ("MemorySwap", options.memswap),
        ("CpuShares", options.cpu_shares),
        ("ShmSize", options.shm_size),
        ("CpuPeriod", options.cpu_period),
        ("CpuQuota", options.cpu_quota),
        ("CpusetCpus", options.cpuset_cpus),
        ("CpusetMems", options.cpuset_mems),
        ("CgroupParent", options.cgroup_parent),
    ):
        if value:
            host_config[key] = value
    if options.extra_hosts:
        host_config["ExtraHosts"] = list(options.extra_hosts)
    return {
        "Image": builder.image.id,
        "Cmd": argv,
        "Entrypoint": [],
        # Build-args are the RUN's environment but never part of the image.
        "Env": [*(config.get("Env") or []), *(f"{k}={v}" for k, v in sorted(args.items()))],
        "WorkingDir": config.get("WorkingDir") or "",
        "User": config.get("User") or "",
        # A VOLUME still pending (not in builder.image yet) hides its folder from the layer.
        "Volumes": config.get("Volumes"),
        "Healthcheck": {"Test": ["NONE"]},
        "AttachStdout": True,
        "AttachStderr": True,
        "OpenStdin": False,
        "Tty": False,
        "HostConfig": host_config,
    }


async def run_container(builder: "Builder", argv: list[str], args: dict[str, str]) -> RunResult:
    """Create, attach, start and wait; the container stays until remove_container."""
    containers = builder.containers
    container = await containers.create(container_body(builder, argv, args), None)
    await builder.arrow(f"Running in {container.id[:12]}")

    # One decoder for the whole output: a character split across two reads stays whole.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    async def sink(_stream: int, data: bytes) -> None:
        text = decoder.decode(data)
        if text:
            await builder.emit(stream.text(text))

    # Registered before the start: no output is missed.
    attachment = Attachment(containers, container)
    relay = asyncio.create_task(attachment.relay(AttachOptions(), None, sink))
    try:
        await containers.start_container(container.id)
        status = await containers.wait(container, "")
        # The output ends with the process; the grace period only guards a stuck socket.
        await asyncio.wait_for(asyncio.shield(relay), OUTPUT_GRACE_SECONDS)
    except BaseException as e:
        relay.cancel()
        with contextlib.suppress(BaseException):
            await relay
        if isinstance(e, TimeoutError):
            status = await containers.wait(container, "")
        else:
            with contextlib.suppress(Exception):
                await containers.remove(container.id, force=True, volumes=True)
            raise
    return RunResult(
        container.id, int(status["StatusCode"]), containers.store.paths(container.id).upper
    )


async def remove_container(builder: "Builder", result: RunResult, failed: bool) -> None:
    """Moby's rm/forcerm: intermediate containers go after success (rm, the default) and also
    after a failure only with forcerm."""
    options = builder.options
    if not (options.forcerm or (options.rm and not failed)):
        return
    await builder.containers.remove(result.container_id, force=True, volumes=True)
    await builder.arrow(f"Removed intermediate container {result.container_id[:12]}")
