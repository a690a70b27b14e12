"""`--change` on docker commit and docker import: one implementation, the builder's parser and
dispatch (variables expand against the config's Env, port ranges, HEALTHCHECK, ONBUILD)."""

import json
import subprocess

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.images import busybox_layer


def _config(daemon: DaemonProcess, ref: str) -> dict:
    return json.loads(daemon.docker("image", "inspect", ref).stdout)[0]["Config"]


def test_commit_and_import_apply_changes_as_a_dockerfile_would(
    daemon: DaemonProcess, busybox: str
) -> None:
    daemon.docker("create", "--name", "changes-src", "-e", "PATH=/bin", busybox, "true")
    changes = [
        "ENV PATH=$PATH:/extra",
        "EXPOSE 7000-7001",
        "HEALTHCHECK CMD true",
        "ONBUILD RUN echo built",
        'LABEL "a b"="c d"',
    ]
    args = [arg for change in changes for arg in ("--change", change)]
    try:
        daemon.docker("commit", *args, "changes-src", "changes:commit")
        subprocess.run(
            [DOCKER_CLI, "import", *args, "-", "changes:import"],
            input=busybox_layer(),
            env=daemon.cli_env(),
            check=True,
            timeout=120,
            capture_output=True,
        )
        committed, imported = _config(daemon, "changes:commit"), _config(daemon, "changes:import")
        assert "PATH=/bin:/extra" in committed["Env"]
        assert "PATH=:/extra" in imported["Env"]  # nothing to expand: the image had no Env
        for config in (committed, imported):
            assert config["ExposedPorts"] == {"7000/tcp": {}, "7001/tcp": {}}
            assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"]}
            assert config["OnBuild"] == ["RUN echo built"]
            assert config["Labels"]["a b"] == "c d"
        refused = daemon.docker("commit", "--change", "RUN true", "changes-src", check=False)
        assert refused.returncode != 0
        assert "run is not a valid change command" in refused.stderr
    finally:
        daemon.docker("rm", "changes-src")
        daemon.docker("rmi", "changes:commit", "changes:import", check=False)
