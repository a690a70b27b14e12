"""The Dockerfile parser and Docker's variable substitution."""

import pytest

from ketch.guest.engine.build.dockerfile import parse
from ketch.guest.engine.build.shellwords import process_word, process_words
from ketch.guest.engine.errors import InvalidParameter


def test_continuations_comments_and_step_count() -> None:
    df = parse(
        "# a comment\nARG V=1\nFROM busybox:$V AS base\nRUN echo a \\\n"
        '# inside\n    && echo b\n\nCMD ["sh"]\nFROM base\nENV A=b\n'
    )
    assert [a.args for a in df.meta_args] == ["V=1"]
    assert [s.name for s in df.stages] == ["base", ""]
    run = df.stages[0].commands[0]
    assert run.keyword == "run" and run.args == "echo a     && echo b"
    assert run.original == "RUN echo a     && echo b"
    assert df.stages[0].commands[1].json_args() == ["sh"]
    assert df.step_count() == 6


def test_escape_directive_and_flags() -> None:
    df = parse("# escape=`\nFROM scratch\nCOPY --from=build --chown=1:2 a `\n  /b\n")
    copy = df.stages[0].commands[0]
    assert df.escape == "`"
    assert copy.flags == {"from": "build", "chown": "1:2"}
    assert copy.args == "a   /b"


def test_heredocs() -> None:
    df = parse(
        "FROM busybox\nRUN <<EOF\necho hi\necho there\nEOF\n"
        "COPY <<-'A' /a\n\tliteral $X\n\tA\nCMD x\n"
    )
    run, copy, cmd = df.stages[0].commands
    assert run.heredocs[0].content == "echo hi\necho there\n"
    assert copy.heredocs[0].name == "A" and copy.heredocs[0].content == "literal $X\n"
    assert not copy.heredocs[0].expand
    assert cmd.keyword == "cmd"


def test_parse_errors() -> None:
    with pytest.raises(InvalidParameter, match="unknown instruction: FOO"):
        parse("FROM busybox\nFOO bar\n")
    with pytest.raises(InvalidParameter, match="no build stage"):
        parse("RUN true\n")
    with pytest.raises(InvalidParameter, match="cannot be empty"):
        parse("# only a comment\n")


def test_variable_substitution() -> None:
    env = {"A": "x", "E": ""}
    assert process_word("${A}-$A-'$A'-\"$A\"", env) == "x-x-$A-x"
    assert process_word("${B:-def} ${E:-def} ${E-def} ${A:+set} ${B+set}", env) == "def def  set "
    assert process_word("\\$A", env) == "$A"
    assert process_words('a "b c" $A', env) == ["a", "b c", "x"]
    assert process_word("${A%x}${P#pre}", {"A": "ax", "P": "prefix"}) == "afix"
    with pytest.raises(InvalidParameter, match="B: required"):
        process_word("${B:?required}", env)


def test_line_size_limit_is_mobys() -> None:
    parse("FROM scratch\nENV A=" + "x" * (65535 - len("ENV A=")) + "\n")
    with pytest.raises(InvalidParameter) as error:
        parse("FROM scratch\nENV A=" + "é" * 40000 + "\n", "build/Dockerfile.dev")
    assert error.value.message == (
        "failed to parse build/Dockerfile.dev: dockerfile line "
        "greater than max allowed size of 65535"
    )
