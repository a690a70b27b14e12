"""Pure container logic: create merging/validation, signals, ps status text, log files, cp paths."""

import os

import pytest

from ketch.guest.engine.containers.create import (
    merge_image_config,
    validate_host_config,
    validate_name,
)
from ketch.guest.engine.containers.inroot import resolve_in_root
from ketch.guest.engine.containers.lifecycle import parse_size, start_error
from ketch.guest.engine.containers.logs import LogOptions, read_existing, rotate
from ketch.guest.engine.containers.signals import parse_signal
from ketch.guest.engine.containers.views import human_duration
from ketch.guest.engine.errors import InvalidParameter


def test_merge_image_config_like_moby() -> None:
    image = {
        "Cmd": ["sh"],
        "Entrypoint": ["/init"],
        "Env": ["PATH=/bin", "A=1"],
        "WorkingDir": "/w",
        "Labels": {"a": "1"},
        "ExposedPorts": {"80/tcp": {}},
    }
    config = {"Env": ["A=2"], "Labels": {"b": "2"}}
    merge_image_config(config, image)
    assert config["Cmd"] == ["sh"] and config["Entrypoint"] == ["/init"]
    assert config["Env"] == ["PATH=/bin", "A=2"] and config["WorkingDir"] == "/w"
    assert config["Labels"] == {"a": "1", "b": "2"}
    own = {"Entrypoint": ["/x"]}
    merge_image_config(own, image)
    assert own["Entrypoint"] == ["/x"] and not own.get("Cmd")  # image Cmd dropped


def test_validation_messages() -> None:
    assert validate_name("web.1") == "/web.1"
    with pytest.raises(InvalidParameter, match=r"Invalid container name \(x\)"):
        validate_name("x")
    with pytest.raises(InvalidParameter, match="Minimum memory limit allowed is 6MB"):
        validate_host_config({"Memory": 100})
    with pytest.raises(InvalidParameter, match="can't create 'AutoRemove' container"):
        validate_host_config({"AutoRemove": True, "RestartPolicy": {"Name": "always"}})
    with pytest.raises(InvalidParameter, match="invalid restart policy"):
        validate_host_config({"RestartPolicy": {"Name": "sometimes"}})


def test_signals_and_sizes() -> None:
    assert parse_signal("KILL") == parse_signal("SIGKILL") == parse_signal("9") == 9
    assert parse_signal(None, 15) == 15
    assert parse_signal("SIGRTMIN+1") > parse_signal("SIGRTMIN")
    with pytest.raises(InvalidParameter, match="Invalid signal: NOPE"):
        parse_signal("NOPE")
    assert parse_size("10m") == 10 << 20 and parse_size("1k") == 1024 and parse_size("") == 0


def test_start_error_exit_codes() -> None:
    assert start_error('exec: "x": executable file not found in $PATH')[0] == 127
    assert start_error('exec: "/etc": permission denied')[0] == 126
    code, error = start_error("something else")
    assert code == 128 and error.message.startswith("failed to create task for container")


def test_human_duration() -> None:
    assert human_duration(0.5) == "Less than a second"
    assert human_duration(1) == "1 second"
    assert human_duration(59) == "59 seconds"
    assert human_duration(61) == "About a minute"
    assert human_duration(3 * 3600) == "3 hours"
    assert human_duration(3 * 86400) == "3 days"


def _write_log(path: str, lines: list[str]) -> None:
    with open(path, "a") as f:
        for line in lines:
            f.write(line + "\n")


def test_log_reading_tail_partial_and_rotation(tmp_path: str) -> None:
    path = os.path.join(tmp_path, "ctr.log")
    _write_log(
        path,
        [
            "2024-01-01T00:00:01.000000000+00:00 stdout F one",
            "2024-01-01T00:00:02.000000000+00:00 stdout P tw",
            "2024-01-01T00:00:02.500000000+00:00 stdout F o",
        ],
    )
    rotate(path, 3)
    _write_log(path, ["2024-01-01T00:00:03.000000000+00:00 stderr F three"])
    lines, end = read_existing(path, LogOptions())
    assert [(x.stream, x.data) for x in lines] == [(1, b"one\n"), (1, b"two\n"), (2, b"three\n")]
    assert end == os.path.getsize(path)
    tail, _ = read_existing(path, LogOptions(tail=1))
    assert [x.data for x in tail] == [b"three\n"]
    since, _ = read_existing(path, LogOptions(since_ns=1704067202 * 10**9, stderr=False))
    assert [x.data for x in since] == [b"two\n"]


def test_resolve_in_root_never_escapes(tmp_path: str) -> None:
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "real/dir"))
    os.symlink("/real", os.path.join(root, "abs"))
    os.symlink("../../..", os.path.join(root, "real/dir/up"))
    assert resolve_in_root(root, "/abs/dir", True) == "/real/dir"
    assert resolve_in_root(root, "/abs", False) == "/abs"
    assert resolve_in_root(root, "/real/dir/up/etc", True) == "/etc"
