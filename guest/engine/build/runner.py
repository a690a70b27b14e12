"""RUN steps: a container from the current image, its output streamed, its upperdir kept."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ketch.guest.engine.errors import NotImplementedFeature

if TYPE_CHECKING:
    from ketch.guest.engine.build.builder import Builder


@dataclass
class RunResult:
    container_id: str
    exit_code: int
    upper_dir: str


async def run_container(builder: "Builder", argv: list[str], args: dict[str, str]) -> RunResult:
    raise NotImplementedFeature("RUN needs the container service")


async def remove_container(builder: "Builder", result: RunResult, failed: bool) -> None:
    return None
