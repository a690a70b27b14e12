"""Bodies of /containers/{id}/exec and /exec/{id}/start: Moby's ExecOptions, ExecStartOptions."""

from __future__ import annotations

from typing import Annotated

from ketch.guest.engine.models.base import Model, Opt, StrList, Uint, console_size, go

ConsoleSize = Annotated[list[Uint], go("[2]uint")]


class ExecOptions(Model):
    __go_type__ = "container.ExecOptions"
    User: Opt[str] = None
    Privileged: Opt[bool] = None
    Tty: Opt[bool] = None
    ConsoleSize: Opt[ConsoleSize] = None
    AttachStdin: Opt[bool] = None
    AttachStderr: Opt[bool] = None
    AttachStdout: Opt[bool] = None
    DetachKeys: Opt[str] = None
    Env: Opt[StrList] = None
    WorkingDir: Opt[str] = None
    Cmd: Opt[StrList] = None
    Detach: Opt[bool] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ConsoleSize = console_size(self.ConsoleSize)


class ExecStartOptions(Model):
    __go_type__ = "container.ExecStartOptions"
    Detach: Opt[bool] = None
    Tty: Opt[bool] = None
    ConsoleSize: Opt[ConsoleSize] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ConsoleSize = console_size(self.ConsoleSize)
