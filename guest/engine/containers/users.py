"""An image's users and groups: /etc/passwd and /etc/group read inside a root filesystem (their
symlinks resolved within it, never on the host), for the process user of `docker run` and
`docker exec -u` and for the build's COPY/ADD --chown."""

from dataclasses import dataclass

from ketch.guest.engine.containers.inroot import host_path
from ketch.guest.engine.errors import InvalidParameter


@dataclass(frozen=True)
class Account:
    """A passwd entry (gid: its primary group) or a group entry (members: its user names)."""

    name: str
    id: int
    gid: int = 0
    members: tuple[str, ...] = ()


def _read(root: str, database: str) -> list[list[str]]:
    path = host_path(root, "/etc/" + database)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [
                line.rstrip("\n").split(":")
                for line in f
                if line.strip() and not line.startswith("#")
            ]
    except OSError:
        return []


def users(root: str) -> list[Account]:
    return [
        Account(f[0], int(f[2]), int(f[3]) if f[3].isdigit() else 0)
        for f in _read(root, "passwd")
        if len(f) >= 4 and f[2].isdigit()
    ]


def groups(root: str) -> list[Account]:
    return [
        Account(f[0], int(f[2]), members=tuple(m for m in f[3].split(",") if m))
        for f in _read(root, "group")
        if len(f) >= 4 and f[2].isdigit()
    ]


def _find(accounts: list[Account], spec: str) -> Account | None:
    """The first entry named spec or, for a number, with that ID (libcontainer's filter)."""
    number = int(spec) if spec.isdigit() else None
    return next((a for a in accounts if a.name == spec or a.id == number), None)


def process_user(root: str, user: str) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary gids) of Docker's User ("name", "uid", "name:group",
    "uid:gid"; "" is root), as Moby resolves it against the image's files."""
    name, _, group = (user or "0").partition(":")
    found = _find(users(root), name)
    if found is None and not name.isdigit():
        raise InvalidParameter(f"unable to find user {name}: no matching entries in passwd file")
    uid, gid = (found.id, found.gid) if found else (int(name), 0)
    all_groups = groups(root)
    if group:
        group_entry = _find(all_groups, group)
        if group_entry is None and not group.isdigit():
            raise InvalidParameter(
                f"unable to find group {group}: no matching entries in group file"
            )
        gid = group_entry.id if group_entry else int(group)
    extra = sorted({g.id for g in all_groups if found and found.name in g.members and g.id != gid})
    return uid, gid, extra


def chown_ids(root: str, chown: str) -> tuple[int, int]:
    """(uid, gid) of a COPY/ADD --chown "user[:group]": numbers as they are, names looked up;
    without a group the user's own number stands for it."""
    user, _, group = chown.partition(":")
    uid = _chown_id(users(root), user, "uid", "user")
    return uid, _chown_id(groups(root), group, "gid", "group") if group else uid


def _chown_id(accounts: list[Account], spec: str, what: str, kind: str) -> int:
    if spec.isdigit():
        return int(spec)
    found = next((a for a in accounts if a.name == spec), None)
    if found is None:
        raise InvalidParameter(
            "unable to convert uid/gid chown string to host mapping: "
            f"can't find {what} for {kind} {spec}: no such {kind}: {spec}"
        )
    return found.id
