"""The `ketch` docker context: created and selected on start; the user's previous context is
remembered in the instance directory and restored on stop/delete."""

import contextlib
import json
import shutil
from pathlib import Path

from ketch.common.proc import ToolError, run
from ketch.host.instance import Instance

CONTEXT = "ketch"


def docker_cli() -> str | None:
    return shutil.which("docker")


def context_name(instance: Instance) -> str:
    return CONTEXT if instance.name == "default" else f"{CONTEXT}-{instance.name}"


def current_context() -> str:
    docker = docker_cli()
    if docker is None:
        return "default"
    return run([docker, "context", "show"], timeout=15).stdout.decode().strip() or "default"


def context_exists(name: str) -> bool:
    docker = docker_cli()
    assert docker is not None
    result = run([docker, "context", "inspect", name], timeout=15, check=False)
    return result.returncode == 0


def context_host(name: str) -> str | None:
    docker = docker_cli()
    assert docker is not None
    result = run([docker, "context", "inspect", name], timeout=15, check=False)
    if result.returncode != 0:
        return None
    with contextlib.suppress(ValueError, KeyError, IndexError):
        return str(json.loads(result.stdout)[0]["Endpoints"]["docker"]["Host"])
    return None


def select(instance: Instance) -> str | None:
    """Create (or repoint) and select the instance's context; returns its name, or None when
    the docker CLI is not installed."""
    docker = docker_cli()
    if docker is None:
        return None
    name = context_name(instance)
    previous = current_context()
    if previous != name:
        instance.previous_context_file.write_text(previous + "\n")
    host = f"host={instance.docker_host}"
    existing = context_host(name)
    if existing is None:
        run(
            [
                docker,
                "context",
                "create",
                name,
                "--description",
                f"Ketch VM ({instance.name})",
                "--docker",
                host,
            ],
            timeout=15,
        )
    elif existing != instance.docker_host:
        run([docker, "context", "update", name, "--docker", host], timeout=15)
    if previous != name:
        run([docker, "context", "use", name], timeout=15)
    return name


def restore(instance: Instance) -> str | None:
    """Switch back to the context that was current before start, if ours is still selected."""
    docker = docker_cli()
    if docker is None:
        return None
    try:
        previous = Path(instance.previous_context_file).read_text().strip() or "default"
    except OSError:
        previous = "default"
    try:
        if current_context() != context_name(instance):
            return None
        if previous != "default" and not context_exists(previous):
            previous = "default"
        run([docker, "context", "use", previous], timeout=15)
    except ToolError:
        return None
    return previous


def remove(instance: Instance) -> None:
    docker = docker_cli()
    if docker is not None:
        restore(instance)
        run([docker, "context", "rm", "-f", context_name(instance)], timeout=15, check=False)
