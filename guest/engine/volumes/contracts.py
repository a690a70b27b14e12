"""What the volumes area needs of its siblings (passed or bound by the Engine, engine.py)."""

from typing import Protocol

from ketch.guest.engine.images.image import Image


class ImageResolver(Protocol):
    def resolve(self, ref_or_id: str) -> Image: ...


class ContainerStates(Protocol):
    def is_running(self, ref: str) -> bool:
        """Whether the container ref names runs (NotFound if there is none)."""
        ...
