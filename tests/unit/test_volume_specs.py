import pytest

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.volumes.specs import VolumeMount, parse_mount


def test_bind_strings() -> None:
    assert parse_mount("data:/var/data:ro") == VolumeMount(
        "data", "/var/data", read_only=True, mode="ro"
    )
    assert parse_mount("/anon") == VolumeMount("", "/anon")
    assert parse_mount("v:/x:nocopy").nocopy
    with pytest.raises(InvalidParameter):
        parse_mount("v:relative")
    with pytest.raises(InvalidParameter):
        parse_mount("v:/x:bogus")


def test_mount_objects() -> None:
    spec = parse_mount(
        {
            "Type": "volume",
            "Source": "v",
            "Target": "/d",
            "ReadOnly": True,
            "VolumeOptions": {
                "NoCopy": True,
                "Labels": {"a": "b"},
                "DriverConfig": {"Options": {"type": "tmpfs"}},
            },
        }
    )
    assert (spec.name, spec.target, spec.read_only, spec.nocopy) == ("v", "/d", True, True)
    assert spec.labels == {"a": "b"} and spec.driver_opts == {"type": "tmpfs"}
