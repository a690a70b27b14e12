"""Background work of the containers area: keyed, waited for by key, drained on close."""

import asyncio

from ketch.guest.engine.containers.background import Background


def test_work_runs_once_per_key_and_can_be_waited_for() -> None:
    async def scenario() -> list[str]:
        background = Background()
        ran: list[str] = []
        release = asyncio.Event()

        async def work(name: str) -> None:
            await release.wait()
            ran.append(name)

        background.run("k", work("first"))
        background.run("k", work("skipped: the first still runs"))
        background.run("other", work("other"))
        release.set()
        await background.done("k")
        assert ran[0] == "first"
        background.run("k", work("again, once the first is done"))
        await background.close()
        await background.done("missing")
        return ran

    assert sorted(asyncio.run(scenario())) == ["again, once the first is done", "first", "other"]
