"""The shape every engine service shares: a back-reference to the Engine and a lifecycle."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine


class Service:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine

    async def start(self) -> None:
        """Restore state from disk (called in dependency order before the API listens)."""

    def begin_shutdown(self) -> None:
        """The daemon is stopping: end live streams (attach, logs -f, ...) so requests finish."""

    async def close(self) -> None:
        """Stop background work at daemon shutdown."""
