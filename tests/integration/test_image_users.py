"""User and group names resolve against the image's own /etc/passwd and /etc/group, the same
way for `docker run -u`, `docker exec -u`, a build's USER and COPY --chown and `docker cp -a`,
with the files' symlinks followed inside the image (never on the host)."""

import io
import os
import tarfile
from pathlib import Path

from test_build import make_context

from ketch.guest.testing.daemon import DaemonProcess

DOCKERFILE = (
    "FROM busybox\n"
    "RUN mkdir /accounts && echo 'app:x:4242:4343::/:/bin/sh' > /accounts/passwd"
    " && echo 'appgroup:x:4343:' > /accounts/group && echo 'extra:x:4444:app' >> /accounts/group"
    " && rm /etc/passwd /etc/group"
    " && ln -s /accounts/passwd /etc/passwd && ln -s ../accounts/group /etc/group\n"
    "COPY --chown=app:appgroup owned.txt /owned.txt\n"
    "USER app\n"
    "RUN id -u > /tmp/build-uid\n"
)


def test_names_resolve_through_the_images_symlinked_files(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path, {"Dockerfile": DOCKERFILE, "owned.txt": "x"})
    daemon.docker("build", "-t", "users:symlinked", context)
    try:
        script = "id -u; id -g; id -G; cat /tmp/build-uid; stat -c %u:%g /owned.txt"
        out = daemon.docker("run", "--rm", "users:symlinked", "sh", "-c", script).stdout
        assert out.split() == ["4242", "4343", "4343", "4444", "4242", "4242:4343"]
        daemon.docker(
            "run", "-d", "--name", "users-exec", "-u", "0", "users:symlinked", "sleep", "300"
        )
        try:
            out = daemon.docker("exec", "-u", "app:extra", "users-exec", "id").stdout
            assert "uid=4242(app) gid=4444(extra)" in out
        finally:
            daemon.docker("rm", "-f", "users-exec")
        refused = daemon.docker(
            "run", "--rm", "-u", "nobody-here", "users:symlinked", "true", check=False
        )
        assert (
            "unable to find user nobody-here: no matching entries in passwd file" in refused.stderr
        )
    finally:
        daemon.docker("rmi", "users:symlinked")


def _owner_in(daemon: DaemonProcess, container: str, path: str) -> tuple[int, int]:
    status, _, data = daemon.request("GET", f"/containers/{container}/archive?path={path}")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        assert member is not None
        return member.uid, member.gid


def test_cp_archive_mode_gives_the_containers_user_the_files(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    source = tmp_path / "copied.txt"
    source.write_text("x")
    os.chown(source, 1234, 5678)
    daemon.docker("create", "--name", "users-cp", "-u", "nobody", busybox, "true")
    try:
        daemon.docker("cp", "-a", str(source), "users-cp:/tmp/archived.txt")
        daemon.docker("cp", str(source), "users-cp:/tmp/kept.txt")
        assert _owner_in(daemon, "users-cp", "/tmp/archived.txt") == (65534, 65534)
        assert _owner_in(daemon, "users-cp", "/tmp/kept.txt") == (1234, 5678)
    finally:
        daemon.docker("rm", "users-cp")
