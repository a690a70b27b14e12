"""A pull's progress from the engine's JSON messages."""

from ketch.host.desktop.pages_resources import PullJob


def test_layers_progress_and_status_are_told_apart() -> None:
    job = PullJob("example/app:1")
    job.update({"status": "Pulling from example/app", "id": "1"})
    job.update({"status": "Pulling fs layer", "id": "aaa"})
    job.update({"status": "Pulling fs layer", "id": "bbb"})
    job.update(
        {"status": "Downloading", "id": "aaa", "progressDetail": {"current": 50, "total": 100}}
    )
    job.update(
        {"status": "Downloading", "id": "bbb", "progressDetail": {"current": 0, "total": 300}}
    )
    assert set(job.layers) == {"aaa", "bbb"}
    assert job.status == "1: Pulling from example/app"
    assert job.percent() == 12
    job.update({"status": "Pull complete", "id": "aaa"})
    job.update({"status": "Pull complete", "id": "bbb"})
    assert job.percent() == 100
    job.update({"status": "Status: Downloaded newer image for example/app:1"})
    assert job.status.startswith("Status: Downloaded")


def test_an_error_message_is_kept_in_the_engine_words() -> None:
    job = PullJob("example/absent:1")
    job.update({"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"})
    assert job.error == "manifest unknown"
