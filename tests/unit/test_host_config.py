"""The instance config pipeline and instance directory, without a VM."""

import json
import platform
from pathlib import Path

import pytest

from ketch.host.config import DEFAULTS, ConfigError, resolve, save
from ketch.host.driver.qemu_argv import Image, build_argv, encode_boot_config, with_tsc_khz
from ketch.host.driver.tsc import host_tsc_khz, measure_khz
from ketch.host.instance import SOCKET_PATH_LIMIT, Instance


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KETCH_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path


def test_defaults_fill_every_setting(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETCH_IMAGE", str(home))  # not an image: the lookup moves on
    config = resolve(home / "none.json", "default", {})
    assert (config.cpus, config.memory, config.disk, config.accel) == (
        DEFAULTS["cpus"],
        DEFAULTS["memory"],
        DEFAULTS["disk"],
        "auto",
    )
    assert config.image.endswith(f"/{config.arch}")


def test_flags_override_saved_config_and_persist(home: Path) -> None:
    path = home / "config.json"
    save(path, resolve(path, "dev", {"cpus": 1, "memory": 1.5}))
    config = resolve(path, "dev", {"disk": 7, "cpus": None})
    assert (config.cpus, config.memory, config.disk) == (1, 1.5, 7)
    assert json.loads(path.read_text())["memory"] == 1.5


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"cpus": 0}, "--cpus 0"),
        ({"cpus": 10_000}, "--cpus 10000"),
        ({"memory": 0.1}, "--memory 0.1"),
        ({"disk": 0}, "--disk 0"),
        ({"accel": "xen"}, "--accel xen"),
    ],
)
def test_validate_rejects_bad_values(home: Path, flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(home / "c.json", "default", flags)


def test_validate_rejects_bad_names(home: Path) -> None:
    with pytest.raises(ConfigError, match="invalid instance name"):
        resolve(home / "c.json", "../evil", {})


def test_instance_dir_layout_and_short_socket_paths(home: Path) -> None:
    instance = Instance("default")
    instance.create_dirs()
    assert instance.dir == home / "home" / "instances" / "default"
    assert instance.docker_sock == home / "run" / "default" / "docker.sock"
    assert len(str(instance.docker_sock)) < SOCKET_PATH_LIMIT
    instance.agent_pidfile.write_text("999999999\n")
    assert instance.agent_pid() is None
    assert instance.stale_pidfiles() == [instance.agent_pidfile]
    instance.write_state(ssh_port=1234)
    instance.write_state(accel="tcg")
    assert instance.read_state() == {"ssh_port": 1234, "accel": "tcg"}


def test_qemu_argv(home: Path, tmp_path: Path) -> None:
    image_dir = tmp_path / "image"
    image_dir.mkdir()
    (image_dir / "image.json").write_text(
        json.dumps(
            {
                "arch": "x86_64",
                "kernel": "vmlinuz",
                "initrd": None,
                "rootfs": "rootfs.img",
                "rootfs_format": "ext4",
                "cmdline": "console=ttyS0 quiet",
                "version": "1",
            }
        )
    )
    config = resolve(
        home / "c.json", "default", {"cpus": 1, "memory": 1, "accel": "tcg", "arch": "x86_64"}
    )
    instance = Instance("default")
    argv = build_argv(
        "qemu-system-x86_64",
        config,
        instance,
        Image.load(image_dir),
        "tcg",
        2222,
        {"hostname": "ketch"},
    )
    joined = " ".join(argv)
    assert "-initrd" not in argv
    assert argv[argv.index("-cpu") + 1] == "max"
    assert argv[argv.index("-m") + 1] == "1024M"
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in joined
    assert f"file={image_dir / 'rootfs.img'},format=raw,readonly=on" in joined
    assert "serial=ketch-data" in joined
    assert f"unix:{instance.qmp_sock},server=on,wait=off" in joined
    append = argv[argv.index("-append") + 1]
    assert append == f"console=ttyS0 quiet ketch.config={encode_boot_config({'hostname': 'ketch'})}"
    assert "=" not in append.rsplit("ketch.config=", 1)[1]
    assert f"socket,id=config,path={instance.config_sock},server=on,wait=off" in joined
    assert "virtserialport,chardev=config,name=ketch.config" in joined


def test_qemu_argv_for_a_snapshot_boot_leaves_the_config_to_the_port(
    home: Path, tmp_path: Path
) -> None:
    image_dir = tmp_path / "image"
    image_dir.mkdir()
    (image_dir / "image.json").write_text(
        json.dumps(
            {
                "arch": "x86_64",
                "kernel": "vmlinuz",
                "initrd": "initrd.img",
                "rootfs": "rootfs.img",
                "cmdline": "console=ttyS0",
                "version": "1",
            }
        )
    )
    config = resolve(home / "c.json", "default", {"arch": "x86_64"})
    argv = build_argv(
        "qemu-system-x86_64", config, Instance("default"), Image.load(image_dir), "tcg", 2222, None
    )
    assert argv[argv.index("-append") + 1] == "console=ttyS0"


def test_the_guest_is_told_the_host_tsc_rate(home: Path, tmp_path: Path) -> None:
    assert (
        with_tsc_khz("quiet tsc_early_khz=2000000 x=1", 2600123)
        == "quiet tsc_early_khz=2600123 x=1 tsc=reliable"
    )
    assert with_tsc_khz("quiet", 2600123) == "quiet tsc_early_khz=2600123 tsc=reliable"
    assert with_tsc_khz("quiet tsc_early_khz=2000000", None) == "quiet tsc_early_khz=2000000"


def test_host_tsc_rate_is_measured_once_and_cached(tmp_path: Path) -> None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("rdtsc is x86_64's")
    cache = tmp_path / "host-tsc.json"
    khz = host_tsc_khz(cache)
    assert khz is not None and 100_000 < khz < 10_000_000
    measured = measure_khz(0.05)
    assert measured is not None and abs(measured - khz) / khz < 0.01
    assert host_tsc_khz(cache) == khz == json.loads(cache.read_text())["khz"]
