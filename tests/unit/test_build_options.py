"""POST /build query parameters."""

import base64
import json

import pytest

from ketch.guest.engine.build.options import parse_options
from ketch.guest.engine.errors import InvalidParameter


def test_query_parameters() -> None:
    auth = base64.urlsafe_b64encode(
        json.dumps({"reg.example:5000": {"username": "u", "password": "p"}}).encode()
    ).decode()
    options = parse_options(
        {
            "dockerfile": "sub/Dockerfile",
            "buildargs": '{"A":"1","B":null}',
            "labels": '{"l":"v"}',
            "nocache": "1",
            "rm": "0",
            "q": "true",
            "memory": "1048576",
            "cachefrom": '["img:1"]',
            "networkmode": "none",
            "target": "build",
        },
        ["a:1", "b"],
        auth,
    )
    assert options.dockerfile == "sub/Dockerfile" and options.tags == ["a:1", "b"]
    assert options.build_args == {"A": "1"} and options.labels == {"l": "v"}
    assert options.nocache and not options.rm and options.quiet and options.memory == 1048576
    assert options.cache_from == ["img:1"] and options.network_mode == "none"
    assert options.auth_configs["reg.example:5000"]["username"] == "u"


def test_bad_parameters() -> None:
    with pytest.raises(InvalidParameter, match="buildargs"):
        parse_options({"buildargs": "{nope"}, [], None)
    with pytest.raises(InvalidParameter, match="memory"):
        parse_options({"memory": "lots"}, [], None)
    with pytest.raises(InvalidParameter, match="BuildKit is not supported"):
        parse_options({"version": "2"}, [], None)
