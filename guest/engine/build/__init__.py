"""Build: the classic builder behind POST /build (issue 8)."""

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from ketch.guest.engine import jsonmessage
from ketch.guest.engine.build import stream
from ketch.guest.engine.build.builder import Builder
from ketch.guest.engine.build.cache import BuildCache
from ketch.guest.engine.build.context import BuildContext
from ketch.guest.engine.build.dockerfile import Dockerfile, parse
from ketch.guest.engine.build.options import BuildOptions
from ketch.guest.engine.errors import InvalidParameter, NotImplementedFeature
from ketch.guest.engine.service import Service
from ketch.guest.runtime import mounts
from ketch.guest.store.images import reference

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService
    from ketch.guest.engine.engine import Engine
    from ketch.guest.engine.images.service import ImageService

log = logging.getLogger("ketch.build")
CLIENT_CHECK_SECONDS = 1.0


class BuildService(Service):
    def __init__(
        self, engine: "Engine", images: "ImageService", containers: "ContainerService"
    ) -> None:
        super().__init__(engine)
        self.images = images
        self.containers = containers

    async def start(self) -> None:
        self.cache = BuildCache(self.engine.layout.build_cache_file)
        await self._clear_leftovers(self.engine.layout.build_tmp_dir)

    @staticmethod
    async def _clear_leftovers(tmp: str) -> None:
        """Contexts and layer folders of builds a killed daemon left behind."""
        if not os.path.isdir(tmp):
            return
        for name in os.listdir(tmp):
            path = os.path.join(tmp, name)
            if os.path.ismount(path):
                await asyncio.to_thread(mounts.unmount, path)
            await asyncio.to_thread(shutil.rmtree, path, True)

    async def prepare(self, body: AsyncIterator[bytes], options: BuildOptions) -> "BuildSession":
        """Receive the context and parse the Dockerfile; failures here are plain HTTP errors
        (as on Moby, where nothing has been streamed yet)."""
        if options.remote and options.remote != "client-session":
            raise NotImplementedFeature(
                f"remote build contexts are not supported: "
                f"{options.remote}; send the context as a tar"
            )
        tags = []
        for tag in options.tags:
            try:
                ref = reference.parse(tag)
            except InvalidParameter as e:
                raise InvalidParameter(f'invalid tag "{tag}": {e.message}') from None
            if ref.digest:
                raise InvalidParameter("build tag cannot contain a digest")
            tags.append(ref.tag_or_latest())
        context = await BuildContext.receive(body, self.engine.layout.build_tmp_dir)
        try:
            # Big contexts and Dockerfiles take a while to walk and parse: off the loop.
            dockerfile = await asyncio.to_thread(_read_and_parse, context, options.dockerfile)
        except BaseException:
            context.close()
            raise
        return BuildSession(self, context, dockerfile, options, tags)

    def prune(self, all_images: bool = False) -> dict[str, Any]:
        """POST /build/prune: forget the step cache (its images stay until `image prune`)."""
        dropped = self.cache.prune()
        return {"CachesDeleted": dropped or None, "SpaceReclaimed": 0}


def _read_and_parse(context: BuildContext, dockerfile_name: str) -> Dockerfile:
    name, text = context.read_dockerfile(dockerfile_name)
    context.apply_dockerignore(name)
    return parse(text, dockerfile_name or name)


class BuildSession:
    def __init__(
        self,
        service: BuildService,
        context: BuildContext,
        dockerfile: Dockerfile,
        options: BuildOptions,
        tags: list[reference.Reference],
    ) -> None:
        self.service = service
        self.context = context
        self.dockerfile = dockerfile
        self.options = options
        self.tags = tags

    async def messages(
        self, client_gone: Callable[[], bool] = lambda: False
    ) -> AsyncIterator[dict[str, Any]]:
        """The JSON stream: steps, output, aux ID, and errorDetail on failure. The build is
        cancelled (its RUN container removed) once client_gone() says the client left."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        async def emit(message: dict[str, Any]) -> None:
            await queue.put(message)

        async def work() -> None:
            try:
                await self._build(emit)
            except Exception as e:
                await queue.put(jsonmessage.error_of(e, log, "build"))
            finally:
                await queue.put(None)

        task = asyncio.create_task(work())
        try:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), CLIENT_CHECK_SECONDS)
                except TimeoutError:
                    if client_gone():
                        log.info("build cancelled: the client went away")
                        return
                    continue
                if message is None:
                    return
                yield message
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            self.context.close()

    async def _build(self, emit: Any) -> None:
        service = self.service
        builder = Builder(
            service.images,
            service.containers,
            service.engine.layout.build_tmp_dir,
            self.context,
            self.dockerfile,
            self.options,
            service.cache,
            emit,
        )
        image = await builder.run()
        if self.options.quiet:
            await emit(stream.text(image.id + "\n"))
            for ref in self.tags:
                service.images.tag(image.id, ref.name, ref.tag)
            return
        await emit(stream.text(f"Successfully built {image.short_id}\n"))
        for ref in self.tags:
            service.images.tag(image.id, ref.name, ref.tag)
            await emit(stream.text(f"Successfully tagged {ref.familiar}\n"))
