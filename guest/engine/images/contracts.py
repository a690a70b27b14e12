"""What the images area needs of the containers area (bound by the Engine, engine.py)."""

from typing import Protocol


class ImageUsers(Protocol):
    def image_in_use(self, image_id: str) -> str | None:
        """ID of a container using image_id, if any."""
        ...

    def running_image_user(self, image_id: str) -> str | None:
        """ID of a running container using image_id, if any."""
        ...
