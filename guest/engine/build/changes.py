"""`docker commit --change` and `docker import --change`: Dockerfile instructions applied to
an image config by the builder's own parser and dispatch, as Moby's BuildFromConfig does."""

import copy
from typing import Any

from ketch.guest.engine.build.dockerfile import parse_changes
from ketch.guest.engine.build.instructions import StageState, apply_config_instruction
from ketch.guest.engine.errors import InvalidParameter

CHANGE_COMMANDS = (
    "cmd",
    "entrypoint",
    "env",
    "expose",
    "healthcheck",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
)


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """A copy of config with the changes applied; variables expand against its Env."""
    if not changes:
        return config
    escape, instructions = parse_changes(changes)
    for inst in instructions:
        if inst.keyword not in CHANGE_COMMANDS:
            raise InvalidParameter(f"{inst.keyword} is not a valid change command")
    state = StageState(config=copy.deepcopy(config), escape=escape)
    for inst in instructions:
        apply_config_instruction(inst, state)
    return state.config
