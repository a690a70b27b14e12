"""The containers the daemon knows: by ID and by name, and their records on disk."""

from collections.abc import Iterator

from ketch.guest.engine.containers.create import random_name
from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.errors import Conflict, InvalidParameter, NotFound
from ketch.guest.store.containers import ContainerStore


def no_such_container(ref: str) -> NotFound:
    return NotFound(f"No such container: {ref}")


class ContainerRegistry:
    def __init__(self, store: ContainerStore) -> None:
        self.store = store
        self.containers: dict[str, Container] = {}
        self.names: dict[str, str] = {}  # "/name" -> id

    def load(self) -> Iterator[Container]:
        """Every container saved on disk, registered as it is read."""
        for document in self.store.load_all():
            c = Container.from_stored(document)
            self.add(c)
            yield c

    def add(self, c: Container) -> None:
        self.containers[c.id] = c
        self.names[c.name] = c.id

    def create(self, c: Container) -> None:
        """A new container: its folder, its first record, its names."""
        self.store.create_dir(c.id)
        self.save(c)
        self.add(c)

    def save(self, c: Container) -> None:
        """Write the container's record (its Docker record and the daemon's bookkeeping)."""
        self.store.save(c.id, c.stored())

    def drop(self, c: Container) -> None:
        """Forget a removed container: lookups fail and its record is deleted (the rest of its
        folder is the caller's to delete)."""
        self.containers.pop(c.id, None)
        if self.names.get(c.name) == c.id:
            del self.names[c.name]
        self.store.forget(c.id)

    # -- lookup -------------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        """By full ID, name (with or without /), or unique ID prefix, as Moby resolves them."""
        if not ref:
            raise no_such_container(ref)
        if ref in self.containers:
            return self.containers[ref]
        by_name = self.names.get("/" + ref.lstrip("/"))
        if by_name is not None:
            return self.containers[by_name]
        matches = [cid for cid in self.containers if cid.startswith(ref)]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        if not matches:
            raise no_such_container(ref)
        return self.containers[matches[0]]

    def __iter__(self) -> Iterator[Container]:
        return iter(list(self.containers.values()))

    def is_running(self, ref: str) -> bool:
        return self.get(ref).running

    def image_in_use(self, image_id: str) -> str | None:
        """ID of a container using image_id, if any (rmi answers 409 then)."""
        for c in self.containers.values():
            if c.image_id == image_id:
                return c.id
        return None

    def running_image_user(self, image_id: str) -> str | None:
        """ID of a running container using image_id, if any (rmi -f refuses then)."""
        for c in self.containers.values():
            if c.image_id == image_id and c.running:
                return c.id
        return None

    def counts(self) -> dict[str, int]:
        """`docker info`'s container counts."""
        containers = self.containers.values()
        running = sum(1 for c in containers if c.running and not c.state["Paused"])
        paused = sum(1 for c in containers if c.state["Paused"])
        total = len(self.containers)
        return {
            "Containers": total,
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": total - running - paused,
        }

    # -- names --------------------------------------------------------------------------------
    def unused_name(self) -> str:
        """A random "/adjective_name" no container has."""
        name = "/" + random_name()
        while name in self.names:
            name = "/" + random_name()
        return name

    def check_name_free(self, stored_name: str) -> None:
        owner = self.names.get(stored_name)
        if owner is not None:
            raise Conflict(
                f'Conflict. The container name "{stored_name}" is already in use by '
                f'container "{owner}". You have to remove (or rename) that container '
                f"to be able to reuse that name."
            )

    def rename(self, c: Container, stored_name: str) -> None:
        self.check_name_free(stored_name)
        del self.names[c.name]
        c.name = stored_name
        self.names[stored_name] = c.id
        self.save(c)
