"""Bodies of /containers/{id}/exec and /exec/{id}/start: Moby's ExecOptions, ExecStartOptions."""

from __future__ import annotations

from typing import Annotated

from ketch.guest.engine.models.base import UNSET, Model, Opt, StrList, Uint, console_size, go

ConsoleSize = Annotated[list[Uint], go("[2]uint")]


class ExecOptions(Model):
    __go_type__ = "container.ExecOptions"
    User: Opt[str] = UNSET
    Privileged: Opt[bool] = UNSET
    Tty: Opt[bool] = UNSET
    ConsoleSize: Opt[ConsoleSize] = UNSET
    AttachStdin: Opt[bool] = UNSET
    AttachStderr: Opt[bool] = UNSET
    AttachStdout: Opt[bool] = UNSET
    DetachKeys: Opt[str] = UNSET
    Env: Opt[StrList] = UNSET
    WorkingDir: Opt[str] = UNSET
    Cmd: Opt[StrList] = UNSET
    Detach: Opt[bool] = UNSET

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ConsoleSize = console_size(self.ConsoleSize)


class ExecStartOptions(Model):
    __go_type__ = "container.ExecStartOptions"
    Detach: Opt[bool] = UNSET
    Tty: Opt[bool] = UNSET
    ConsoleSize: Opt[ConsoleSize] = UNSET

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ConsoleSize = console_size(self.ConsoleSize)
