"""runtime/exec.py: the OCI process an exec runs, and the runtime's own failure read back."""

import json
from pathlib import Path

from ketch.guest.runtime.exec import ExecProcess, RunningExec
from ketch.guest.runtime.oci import OciRuntime


def test_process_document() -> None:
    process = ExecProcess(
        args=["sh", "-c", "id"],
        env=["A=1"],
        cwd="/w",
        uid=1,
        gid=2,
        capabilities=["CAP_CHOWN"],
        terminal=True,
        additional_gids=[3],
    )
    assert process.to_oci() == {
        "terminal": True,
        "user": {"uid": 1, "gid": 2, "additionalGids": [3]},
        "args": ["sh", "-c", "id"],
        "env": ["A=1"],
        "cwd": "/w",
        "capabilities": {
            "bounding": ["CAP_CHOWN"],
            "effective": ["CAP_CHOWN"],
            "permitted": ["CAP_CHOWN"],
        },
        "noNewPrivileges": False,
    }
    assert "additionalGids" not in ExecProcess(["true"], [], "/", 0, 0, []).to_oci()["user"]


def test_exec_argv_logs_json_and_puts_tty_before_the_id() -> None:
    runtime = OciRuntime("runc", "/usr/bin/runc", "/run/r", ("--systemd-cgroup",))
    assert runtime.exec_argv("cid", "/b/p.json", True, "/b/p.log") == [
        "/usr/bin/runc",
        "--root",
        "/run/r",
        "--systemd-cgroup",
        "--log",
        "/b/p.log",
        "--log-format",
        "json",
        "exec",
        "--process",
        "/b/p.json",
        "--tty",
        "cid",
    ]


def test_failure_is_the_last_error_line_of_the_runtime_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(
        "\n".join(
            [
                json.dumps({"level": "error", "msg": "first"}),
                "not json",
                json.dumps(
                    {"level": "error", "msg": 'exec failed: "nope": executable file not found'}
                ),
                json.dumps({"level": "info", "msg": "later"}),
            ]
        )
        + "\n"
    )
    running = RunningExec(
        proc=None,
        process_file=str(tmp_path / "x.json"),  # type: ignore[arg-type]
        log_file=str(log),
    )
    assert running.failure() == 'exec failed: "nope": executable file not found'
    running.remove_files()
    assert not log.exists()
    assert RunningExec(None, "", str(tmp_path / "gone.log")).failure() == ""  # type: ignore[arg-type]
