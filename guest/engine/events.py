"""The in-process event bus every service publishes to; `GET /events` reads from it."""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ketch.guest.engine.filters import Filters

HISTORY_SIZE = 1024
EVENT_FILTERS = (
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
)
# Types whose events also carry the legacy top-level status/id/from fields.
_LEGACY_TYPES = ("container", "image")


@dataclass(frozen=True)
class Event:
    type: str
    action: str
    actor_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    scope: str = "local"
    time_nano: int = field(default_factory=time.time_ns)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.type in _LEGACY_TYPES:
            doc["status"] = self.action
            doc["id"] = self.actor_id
            if self.type == "container" and "image" in self.attributes:
                doc["from"] = self.attributes["image"]
        doc.update(
            {
                "Type": self.type,
                "Action": self.action,
                "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
                "scope": self.scope,
                "time": self.time_nano // 10**9,
                "timeNano": self.time_nano,
            }
        )
        return doc


def _strip_tag(reference: str) -> str:
    name, _, tag = reference.rpartition(":")
    return name if name and "/" not in tag else reference


def event_matches(event: Event, filters: Filters) -> bool:
    """Moby's events filter: every given field must match (fields are ANDed)."""
    attrs = event.attributes
    if filters.get("event") & {"health_status", "exec_create", "exec_start"}:
        action_ok = filters.fuzzy_match("event", event.action)
    else:
        action_ok = filters.exact_match("event", event.action)

    def by_name(kind: str) -> bool:
        return (
            filters.fuzzy_match(kind, event.actor_id)
            or filters.fuzzy_match(kind, attrs.get("name", ""))
            if kind in filters
            else True
        )

    image_attr = attrs.get("name" if event.type == "image" else "image", "")
    image_ok = "image" not in filters or any(
        filters.exact_match("image", candidate)
        for candidate in (
            event.actor_id,
            image_attr,
            _strip_tag(event.actor_id),
            _strip_tag(image_attr),
        )
    )
    return (
        action_ok
        and filters.exact_match("type", event.type)
        and filters.exact_match("scope", event.scope)
        and all(
            by_name(kind)
            for kind in (
                "daemon",
                "container",
                "plugin",
                "volume",
                "network",
                "node",
                "service",
                "secret",
                "config",
            )
        )
        and image_ok
        and filters.match_kv_list("label", attrs)
    )


class EventSink(Protocol):
    """What a service needs to report what it did (the EventBus)."""

    def publish(
        self,
        type_: str,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
        scope: str = "local",
    ) -> Event: ...


class EventBus:
    """Keeps recent events for `since` and fans new ones out to live subscribers."""

    def __init__(self) -> None:
        self._history: deque[Event] = deque(maxlen=HISTORY_SIZE)
        self._subscribers: set[asyncio.Queue[Event | None]] = set()

    def publish(
        self,
        type_: str,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
        scope: str = "local",
    ) -> Event:
        event = Event(type_, action, actor_id, dict(attributes or {}), scope)
        self._history.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)
        return event

    @property
    def listener_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self, since_ns: int | None = None, until_ns: int | None = None) -> "Subscription":
        """Past events from since_ns, then live ones until until_ns (or close()). Subscribed
        from this call on, as Moby's /events is before its response starts: a client that has
        the headers sees every later event. close() the subscription when done."""
        return Subscription(self, since_ns, until_ns)

    def close(self) -> None:
        """End every live stream (daemon shutdown)."""
        for queue in self._subscribers:
            queue.put_nowait(None)


class Subscription:
    """One subscriber's queue, registered from creation until close()."""

    def __init__(self, bus: EventBus, since_ns: int | None, until_ns: int | None) -> None:
        self.bus = bus
        self.since_ns = since_ns
        self.until_ns = until_ns
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.past = [
            e
            for e in bus._history
            if since_ns is not None
            and e.time_nano >= since_ns
            and (until_ns is None or e.time_nano <= until_ns)
        ]
        bus._subscribers.add(self.queue)

    def close(self) -> None:
        self.bus._subscribers.discard(self.queue)

    async def events(self) -> AsyncIterator[Event]:
        for event in self.past:
            yield event
        while True:
            timeout = None
            if self.until_ns is not None:
                timeout = (self.until_ns - time.time_ns()) / 1e9
                if timeout <= 0:
                    return
            try:
                event = await asyncio.wait_for(self.queue.get(), timeout)
            except TimeoutError:
                return
            if event is None:
                return
            if self.since_ns is not None and event.time_nano < self.since_ns:
                continue
            yield event
