import asyncio

from ketch.guest.engine.events import Event, EventBus, event_matches
from ketch.guest.engine.filters import Filters


def test_legacy_fields_for_container_events() -> None:
    doc = Event("container", "start", "abc", {"image": "busybox", "name": "x"}).to_json()
    assert doc["status"] == "start" and doc["id"] == "abc" and doc["from"] == "busybox"
    assert doc["Actor"]["Attributes"]["name"] == "x"
    assert "status" not in Event("network", "create", "n1").to_json()


def test_filters_and_together() -> None:
    ev = Event(
        "container",
        "start",
        "abc123",
        {"name": "web", "image": "busybox:latest", "com.example": "1"},
    )
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
        subscription = bus.subscribe(since_ns=first.time_nano, until_ns=first.time_nano + 1)
        got = [event.action async for event in subscription.events()]
        subscription.close()
        return got

    assert asyncio.run(scenario()) == ["pull"]


def test_subscribed_before_the_first_read() -> None:
    """What is published between subscribe() and the first read is delivered, once (the
    /events response's headers go out in between)."""

    async def scenario() -> tuple[list[str], int]:
        bus = EventBus()
        since = bus.publish("volume", "create", "before").time_nano
        subscription = bus.subscribe(since_ns=since)
        bus.publish("volume", "create", "between")
        bus.close()
        got = [event.actor_id async for event in subscription.events()]
        subscription.close()
        return got, bus.listener_count

    assert asyncio.run(scenario()) == (["before", "between"], 0)
