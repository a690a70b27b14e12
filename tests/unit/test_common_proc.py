"""common/proc.py: every shape of spawn logs, and turns a missing tool into a ToolError."""

import asyncio
import sys

import pytest

from ketch.common import proc


def test_run_text_translates_newlines_like_text_mode() -> None:
    result = proc.run_text([sys.executable, "-c", "import sys; sys.stdout.write('a\\r\\nb\\rc')"])
    assert result.stdout == "a\nb\nc"


def test_one_shot_failure_carries_stderr() -> None:
    with pytest.raises(proc.ToolError, match="boom"):
        proc.run_text([sys.executable, "-c", "import sys; sys.exit('boom')"])


def test_missing_tool_is_a_tool_error_in_every_shape() -> None:
    argv = ["/nonexistent/ketch-tool"]
    with pytest.raises(proc.ToolError, match="not found"):
        proc.popen(argv)
    with pytest.raises(proc.ToolError, match="not found"):
        asyncio.run(proc.spawn(argv))


def test_stream_stdout_yields_chunks_and_reaps_the_tool() -> None:
    async def first_chunk() -> bytes:
        stream = proc.stream_stdout(
            [
                sys.executable,
                "-c",
                "import sys; sys.stdout.write('x' * 10); sys.stdout.flush();"
                " import time; time.sleep(60)",
            ]
        )
        try:
            return await anext(stream)
        finally:
            await stream.aclose()  # the tool is killed and waited for, not left behind

    assert asyncio.run(first_chunk()) == b"x" * 10
