"""Config-only instruction semantics, RUN argv with heredocs, and COPY destination rules."""

import os
from pathlib import Path

import pytest

from ketch.guest.engine.build import copy as copying
from ketch.guest.engine.build.dockerfile import parse, parse_instruction
from ketch.guest.engine.build.instructions import (
    StageState,
    apply_config_instruction,
    declare_args,
)
from ketch.guest.engine.errors import InvalidParameter


def apply(state: StageState, text: str) -> str:
    return apply_config_instruction(parse_instruction(text), state)


def test_env_label_and_expansion() -> None:
    state = StageState(config={"Env": ["PATH=/bin"]})
    apply(state, 'ENV A=1 B="two words"')
    apply(state, "ENV C ${A}-$B")
    apply(state, 'LABEL "k"=v other="$A"')
    assert state.config["Env"] == ["PATH=/bin", "A=1", "B=two words", "C=1-two words"]
    assert state.config["Labels"] == {"k": "v", "other": "1"}
    with pytest.raises(InvalidParameter, match="can't find ="):
        apply(state, "ENV A=1 B")


def test_cmd_entrypoint_shell_and_workdir() -> None:
    state = StageState(config={"Cmd": ["sh"]})
    apply(state, 'ENTRYPOINT ["/bin/app"]')
    assert state.config["Cmd"] is None  # an inherited CMD is reset by ENTRYPOINT
    apply(state, 'SHELL ["/bin/bash", "-c"]')
    apply(state, "CMD echo hi")
    assert state.config["Cmd"] == ["/bin/bash", "-c", "echo hi"]
    apply(state, "ENTRYPOINT /bin/other")
    assert state.config["Cmd"] == ["/bin/bash", "-c", "echo hi"]
    apply(state, "WORKDIR /a")
    apply(state, "WORKDIR b/../c")
    assert state.config["WorkingDir"] == "/a/c"


def test_expose_healthcheck_stopsignal_onbuild() -> None:
    state = StageState(config={})
    apply(state, "EXPOSE 80 7000-7001/udp")
    assert state.config["ExposedPorts"] == {"80/tcp": {}, "7000/udp": {}, "7001/udp": {}}
    apply(state, 'HEALTHCHECK --interval=1m30s --timeout=3s CMD ["check"]')
    assert state.config["Healthcheck"] == {
        "Test": ["CMD", "check"],
        "Interval": 90 * 10**9,
        "Timeout": 3 * 10**9,
    }
    apply(state, "HEALTHCHECK NONE")
    assert state.config["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(InvalidParameter, match="Invalid signal"):
        apply(state, "STOPSIGNAL SIGNOPE")
    with pytest.raises(InvalidParameter, match="ONBUILD ONBUILD"):
        apply(state, "ONBUILD ONBUILD RUN x")


def test_arg_scoping_and_build_args() -> None:
    df = parse("ARG V=1\nARG ONLY_META\nFROM busybox:$V\nARG V\nARG W=x${V}\n")
    meta = StageState(config={}, build_args={"ONLY_META": "m"})
    for inst in df.meta_args:
        declare_args(inst, meta)
    assert meta.args == {"V": "1", "ONLY_META": "m"}
    stage = StageState(config={}, build_args={"W": "given"})
    for inst in df.stages[0].commands:
        declare_args(inst, stage, meta.args)
    assert stage.args == {"V": "1", "W": "given"}
    stage.config["Env"] = ["V=env"]
    assert stage.env()["V"] == "env" and "V" not in stage.run_args()


def test_copy_destination_rules(tmp_path: Path) -> None:
    context, rootfs, upper = tmp_path / "ctx", tmp_path / "root", tmp_path / "upper"
    for folder in (context / "dir" / "sub", rootfs / "existing", upper):
        folder.mkdir(parents=True)
    (context / "a.txt").write_text("a")
    (context / "dir" / "sub" / "f").write_text("f")
    os.symlink("/existing", rootfs / "link")
    sources = [
        copying.Source(str(context), p)
        for p in copying.match_sources(str(context), ["*.txt"], "COPY")
    ]
    copying.copy_sources(sources, "/existing", str(rootfs), str(upper), copying.Ownership(), "COPY")
    assert (upper / "existing" / "a.txt").read_text() == "a"
    copying.copy_sources(
        sources, "/link/renamed", str(rootfs), str(upper), copying.Ownership(), "COPY"
    )
    assert (upper / "existing" / "renamed").read_text() == "a"
    tree = [copying.Source(str(context), "dir")]
    copying.copy_sources(tree, "/new/", str(rootfs), str(upper), copying.Ownership(), "COPY")
    assert (upper / "new" / "sub" / "f").read_text() == "f"
    with pytest.raises(InvalidParameter, match="must be a directory and end with a /"):
        copying.copy_sources(
            sources + tree, "/x", str(rootfs), str(upper), copying.Ownership(), "COPY"
        )
    with pytest.raises(InvalidParameter, match="no source files were specified"):
        copying.match_sources(str(context), ["*.none"], "COPY")
    assert copying.checksum(sources) != copying.checksum(tree)
