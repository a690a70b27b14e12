import asyncio

from ketch.guest.engine.events import Event, EventBus, event_matches
from ketch.guest.engine.filters import Filters


def test_legacy_fields_for_container_events() -> None:
    doc = Event("container", "start", "abc", {"image": "busybox", "name": "x"}).to_json()
    assert doc["status"] == "start" and doc["id"] == "abc" and doc["from"] == "busybox"
    assert doc["Actor"]["Attributes"]["name"] == "x"
    assert "status" not in Event("network", "create", "n1").to_json()


def test_filters_and_together() -> None:
    ev = Event("container", "start", "abc123", {"name": "web", "image": "busybox:latest",
                                                "com.example": "1"})
    assert event_matches(ev, Filters({"container": {"web"}}))
    assert event_matches(ev, Filters({"container": {"abc"}}))
    assert event_matches(ev, Filters({"image": {"busybox"}}))
    assert event_matches(ev, Filters({"label": {"com.example=1"}, "type": {"container"}}))
    assert not event_matches(ev, Filters({"type": {"image"}}))
    assert not event_matches(ev, Filters({"event": {"stop"}}))
    health = Event("container", "health_status: healthy", "abc123")
    assert event_matches(health, Filters({"event": {"health_status"}}))


def test_stream_replays_since_and_stops_at_until() -> None:
    async def scenario() -> list[str]:
        bus = EventBus()
        first = bus.publish("image", "pull", "busybox")
        got = []
        async for event in bus.stream(since_ns=first.time_nano, until_ns=first.time_nano + 1):
            got.append(event.action)
        return got

    assert asyncio.run(scenario()) == ["pull"]
