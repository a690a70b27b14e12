"""Users and groups from an image's files: Docker's User and --chown forms."""

from pathlib import Path

import pytest

from ketch.guest.engine.containers.users import chown_ids, process_user
from ketch.guest.engine.errors import InvalidParameter


@pytest.fixture
def root(tmp_path: Path) -> str:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0::/root:/bin/sh\n"
        "# a comment\n"
        "app:x:1000:1001::/home/app:/bin/sh\n"
        "2000:x:3000:3000::/:/bin/sh\n"
    )
    (tmp_path / "etc" / "group").write_text("root:x:0:\napp:x:1001:\nwheel:x:10:root,app\n")
    return str(tmp_path)


def test_process_user_forms(root: str) -> None:
    assert process_user(root, "") == (0, 0, [10])
    assert process_user(root, "app") == (1000, 1001, [10])
    assert process_user(root, "1000:wheel") == (1000, 10, [])
    assert process_user(root, "2000") == (3000, 3000, [])  # the first entry named or numbered so
    assert process_user(root, "555:777") == (555, 777, [])
    with pytest.raises(InvalidParameter, match="unable to find user ghost"):
        process_user(root, "ghost")
    with pytest.raises(InvalidParameter, match="unable to find group ghosts"):
        process_user(root, "app:ghosts")


def test_chown_forms(root: str) -> None:
    assert chown_ids(root, "app") == (1000, 1000)
    assert chown_ids(root, "app:wheel") == (1000, 10)
    assert chown_ids(root, "7:8") == (7, 8)
    with pytest.raises(InvalidParameter, match="can't find uid for user ghost"):
        chown_ids(root, "ghost")
    with pytest.raises(InvalidParameter, match="can't find gid for group ghosts"):
        chown_ids(root, "app:ghosts")
