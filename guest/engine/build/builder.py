"""One classic-builder run: stages in order, one image per instruction, the cache, the output."""

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.build import cachefrom, stream
from ketch.guest.engine.build.cache import BuildCache, Step, cache_key
from ketch.guest.engine.build.context import BuildContext
from ketch.guest.engine.build.dockerfile import Dockerfile, Instruction, Stage, parse_instruction
from ketch.guest.engine.build.instructions import (
    PROXY_ARGS,
    StageState,
    apply_config_instruction,
    declare_args,
)
from ketch.guest.engine.build.options import BuildOptions
from ketch.guest.engine.build.shellwords import process_word
from ketch.guest.engine.errors import EngineError, InvalidParameter, NotFound
from ketch.guest.engine.images.image import Image
from ketch.guest.engine.timestamps import format_rfc3339_nano
from ketch.guest.store.images import reference

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService
    from ketch.guest.engine.images.service import ImageService

log = logging.getLogger("ketch.build")
Emit = Callable[[dict[str, Any]], Awaitable[None]]
NOP = "/bin/sh -c #(nop) "
PENDING_PREFIX = "config:"
"""Cache entries of config-only steps: key -> the image they were committed in."""
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StepFailed(EngineError):
    """A RUN exited non-zero: the stream's errorDetail carries the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code  # the errorDetail's code


class Builder:
    def __init__(
        self,
        images: "ImageService",
        containers: "ContainerService",
        tmp_dir: str,
        context: BuildContext,
        dockerfile: Dockerfile,
        options: BuildOptions,
        cache: BuildCache,
        emit: Emit,
    ) -> None:
        # The builder is a client of both services, as the API is: it runs containers
        # (RUN) and commits and tags images.
        self.images = images
        self.containers = containers
        self.tmp_dir = tmp_dir
        self.context = context
        self.dockerfile = dockerfile
        self.options = options
        self.cache = cache
        self._emit = emit
        self.stages = self._stages_to_build()
        self.total = (
            len(dockerfile.meta_args) + len(self.stages) + sum(len(s.commands) for s in self.stages)
        )
        self.step_number = 0
        self.meta_args: dict[str, str | None] = {}
        self.used_args: set[str] = set()
        self.stage_images: dict[str, Image | None] = {}
        self.state: StageState | None = None
        self.image: Image | None = None
        self.cache_sources: list[Image] | None = None
        self.pending: list[tuple[str, dict[str, Any]]] = []
        """Config-only steps since self.image: (cache key, history entry)."""
        self.chain = ""
        """The cache key of the last step (the base image's ID after FROM)."""
        self.steps: dict[str, Step] = {}
        """Every step keyed so far, for the cache entries that record them."""

    def _stages_to_build(self) -> list[Stage]:
        stages = list(self.dockerfile.stages)
        if self.options.target:
            names = [s.name for s in stages]
            target = self.options.target.lower()
            if target not in names:
                raise InvalidParameter(
                    f"failed to reach build target {self.options.target} in Dockerfile"
                )
            stages = stages[: names.index(target) + 1]
        if self.options.labels:
            text = "LABEL " + " ".join(
                f'"{k}"="{v}"' for k, v in sorted(self.options.labels.items())
            )
            stages[-1].commands.append(parse_instruction(text, self.dockerfile.escape))
        return stages

    async def emit(self, message: dict[str, Any]) -> None:
        if self.options.quiet and ("stream" in message or "status" in message):
            return
        await self._emit(message)

    async def say(self, text: str) -> None:
        await self.emit(stream.text(text))

    async def arrow(self, text: str) -> None:
        await self.emit(stream.arrow(text))

    async def step(self, inst: Instruction) -> None:
        self.step_number += 1
        await self.emit(stream.step(self.step_number, self.total, inst.original))

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> Image:
        meta_state = StageState(
            config={}, escape=self.dockerfile.escape, build_args=self.options.build_args
        )
        for inst in self.dockerfile.meta_args:
            await self.step(inst)
            declare_args(inst, meta_state)
        self.meta_args = dict(meta_state.args)
        self.used_args |= meta_state.used_args
        for stage in self.stages:
            await self.build_stage(stage)
            if self.image is not None:
                await self.emit(stream.aux_id(self.image.id))
        unused = sorted(set(self.options.build_args) - self.used_args - set(PROXY_ARGS))
        if unused:
            await self.say(
                f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n"
            )
        if self.image is None:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        return self.image

    async def build_stage(self, stage: Stage) -> None:
        await self.step(stage.source)
        await self.from_image(stage)
        assert self.state is not None
        for inst in stage.commands:
            await self.step(inst)
            await self.dispatch(inst)
            await asyncio.sleep(0)  # config-only steps never wait: let other requests in
        await self.finish_stage()
        self.used_args |= self.state.used_args
        self.stage_images[str(stage.index)] = self.image
        if stage.name:
            self.stage_images[stage.name] = self.image

    async def from_image(self, stage: Stage) -> None:
        inst = stage.source
        flags = set(inst.flags) - {"platform"}
        if flags:
            raise InvalidParameter(f"unknown flag: {sorted(flags)[0]}")
        meta_env = {k: v for k, v in self.meta_args.items() if v is not None}
        name = process_word(inst.args.split()[0], meta_env, self.dockerfile.escape)
        if not name:
            raise InvalidParameter(f"base name ({inst.args.split()[0]}) should not be blank")
        image: Image | None
        if name.lower() in self.stage_images:
            image = self.stage_images[name.lower()]
        elif name == "scratch":
            image = None
        else:
            platform = (
                process_word(inst.flags.get("platform", ""), meta_env, self.dockerfile.escape)
                or self.options.platform
            )
            image = await self.base_image(name, platform)
        self.image = image
        self.pending = []
        self.chain = image.id if image is not None else ""
        config = copy.deepcopy(image.container_config) if image is not None else {}
        if not any(e.startswith("PATH=") for e in config.get("Env") or []):
            config["Env"] = [*(config.get("Env") or []), DEFAULT_PATH]
        onbuild = config.pop("OnBuild", None) or []
        config["OnBuild"] = None
        self.state = StageState(
            config=config, escape=self.dockerfile.escape, build_args=self.options.build_args
        )
        if image is not None:
            await self.arrow(image.short_id)
        if onbuild:
            await self.say(
                f"# Executing {len(onbuild)} build trigger{'s' if len(onbuild) > 1 else ''}\n"
            )
            for trigger in onbuild:
                await self.dispatch(parse_instruction(trigger, self.dockerfile.escape))

    async def base_image(self, name: str, platform: str) -> Image:
        """The local image, or a pull (always a pull with the `pull` option)."""
        images = self.images
        if not self.options.pull:
            try:
                return images.resolve(name)
            except NotFound:
                pass
        async for message in images.pull(name, self._auth_for(name), platform or None):
            await self.emit(message)
        return images.resolve(name)

    def _auth_for(self, name: str) -> dict[str, Any] | None:
        """The X-Registry-Config entry for the registry holding name, if the client sent one."""
        configs = self.options.auth_configs
        if not configs:
            return None
        domain = reference.parse(name).domain
        keys = [domain, f"https://{domain}", f"http://{domain}"]
        if domain == "docker.io":
            keys.insert(0, "https://index.docker.io/v1/")
        for key in keys:
            if isinstance(configs.get(key), dict):
                return dict(configs[key])
        return None

    # -- instructions -----------------------------------------------------------------------

    async def dispatch(self, inst: Instruction) -> None:
        from ketch.guest.engine.build import steps

        assert self.state is not None
        if inst.keyword == "from":
            raise InvalidParameter("FROM is not allowed here")
        if inst.keyword == "run":
            await steps.run_step(self, inst)
        elif inst.keyword in ("copy", "add"):
            await steps.copy_step(self, inst)
        elif inst.keyword == "workdir":
            before = self.state.config.get("WorkingDir")
            comment = apply_config_instruction(inst, self.state)
            if self.state.config.get("WorkingDir") == before and before:
                await self.commit_config(comment)
            else:
                await steps.workdir_step(self, comment)
        elif inst.keyword == "arg":
            comment = declare_args(inst, self.state, self.meta_args)
            await self.commit_config(comment)
        else:
            comment = apply_config_instruction(inst, self.state)
            await self.commit_config(comment)

    def image_config(self) -> dict[str, Any]:
        assert self.state is not None
        config = copy.deepcopy(self.state.config)
        if self.state.author:
            config["author"] = self.state.author
        return config

    # -- cache and commits --------------------------------------------------------------------
    #
    # Steps that only change the config are recorded as pending history and committed together
    # with the next layer (or at the end of the stage): one image per step would store the
    # whole history once per step, quadratic in the Dockerfile's length. Cache keys chain
    # through every step (self.chain), so a pending step still keys what follows it.

    def step_key(self, created_by: str) -> str:
        key = cache_key(self.chain, created_by, self.image_config())
        self.steps[key] = Step(key, self.chain, created_by)
        return key

    def _sources(self) -> list[Image]:
        if self.cache_sources is None:
            self.cache_sources = cachefrom.source_images(self.images, self.options.cache_from)
        return self.cache_sources

    def _pending_history(self) -> list[dict[str, Any]]:
        return [entry for _, entry in self.pending]

    async def commit_config(self, comment: str) -> None:
        """A config-only step: pending until the next commit; "Using cache" when an earlier
        build (or a --cache-from image) went through the same step."""
        created_by = NOP + comment
        key = self.step_key(created_by)
        if not self.options.nocache:
            seen_key = key if self.cache.get(key) else PENDING_PREFIX + key
            seen = self.cache.get(seen_key)
            if seen is not None and self.images.exists(seen):
                self.cache.used(seen_key)
                await self.arrow("Using cache")
            elif self._sources() and cachefrom.has_step(
                self._sources(), self.image, self._pending_history(), created_by
            ):
                await self.arrow("Using cache")
        entry = {
            "created": format_rfc3339_nano(time.time_ns()),
            "created_by": created_by,
            "empty_layer": True,
        }
        self.pending.append((key, entry))
        self.chain = key

    async def finish_stage(self) -> None:
        """Commit the pending config-only steps (reusing the cached image when there is one)."""
        if not self.pending:
            return
        *earlier, (key, last) = self.pending
        hit = await self._lookup(key, last["created_by"], self._pending_history()[:-1])
        if hit is not None:
            self._advance(key, hit)
            await self.arrow(hit.short_id)
            return
        self.pending = earlier
        await self._commit(key, last["created_by"], None)

    async def _lookup(
        self, key: str, created_by: str, pending: list[dict[str, Any]]
    ) -> Image | None:
        """The image an earlier build (or a --cache-from image) made for this step."""
        if self.options.nocache:
            return None
        image_id = self.cache.get(key)
        if image_id is not None:
            try:
                image = self.images.get(image_id)
            except (NotFound, ValueError):
                self.cache.forget(key)
            else:
                self.cache.used(key)
                return image
        if self._sources():
            hit = await cachefrom.restore(
                self.images, self._sources(), self.image, pending, created_by, self.image_config()
            )
            if hit is not None:
                self.cache.put([self.steps[key]], hit.id)
                return hit
        return None

    def _advance(self, key: str, image: Image) -> None:
        """image is the state after the step keyed key: pending steps are part of it."""
        pending = [self.steps[k] for k, _ in self.pending]
        steps = [Step(PENDING_PREFIX + s.key, s.parent, s.description) for s in pending]
        self.cache.put([*steps, self.steps[key]], image.id)
        self.pending = []
        self.image = image
        self.chain = key

    async def use_cache(self, created_by: str) -> bool:
        key = self.step_key(created_by)
        hit = await self._lookup(key, created_by, self._pending_history())
        if hit is None:
            return False
        self._advance(key, hit)
        await self.arrow("Using cache")
        await self.arrow(hit.short_id)
        return True

    async def commit(self, created_by: str, upper_dir: str, announce: bool = True) -> Image:
        """A step's layer (after use_cache missed), with the pending steps before it."""
        return await self._commit(self.step_key(created_by), created_by, upper_dir, announce)

    async def _commit(
        self, key: str, created_by: str, upper_dir: str | None, announce: bool = True
    ) -> Image:
        history: dict[str, Any] = {"created_by": created_by}
        image = await self.images.commit(
            self.image,
            upper_dir,
            self.image_config(),
            history,
            None,
            earlier_history=self._pending_history(),
        )
        self._advance(key, image)
        if announce:
            await self.arrow(image.short_id)
        return image
