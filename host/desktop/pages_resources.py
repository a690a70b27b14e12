"""Images (pull with progress, delete, prune) and volumes (delete, prune), live."""

import asyncio
import secrets
from typing import Any

from aiohttp import web

from ketch.host.desktop import views
from ketch.host.desktop.docker import DockerError
from ketch.host.desktop.live import Fragments, encode_event, open_stream
from ketch.host.desktop.pages_containers import engine_fragment
from ketch.host.desktop.ui import Context, context_of

routes = web.RouteTableDef()
# what changes each list: its own type's events, the engine's, and these container actions
IMAGE_CONTAINER_ACTIONS = {"create", "destroy"}  # "in use"
VOLUME_CONTAINER_ACTIONS = {"create", "destroy", "start", "die"}  # "in use", sizes
LAYER_STATUSES = (
    "Pulling fs layer",
    "Waiting",
    "Downloading",
    "Verifying",
    "Download complete",
    "Extracting",
    "Pull complete",
    "Already exists",
)


async def image_rows(context: Context) -> list[views.ImageRow]:
    images, containers = await asyncio.gather(
        context.docker.get("/images/json"), context.docker.get("/containers/json", all=True)
    )
    return views.image_rows(images, containers)


async def volume_rows(context: Context) -> list[views.VolumeRow]:
    df, containers = await asyncio.gather(
        context.docker.get("/system/df", type="volume"),
        context.docker.get("/containers/json", all=True),
    )
    return views.volume_rows(df.get("Volumes") or [], containers)


def relevant(events: list[dict[str, Any]], kind: str, container_actions: set[str]) -> bool:
    return any(
        e.get("Type") in (kind, "engine")
        or (e.get("Type") == "container" and e.get("Action") in container_actions)
        for e in events
    )


def live_list(template: str, rows: Any, kind: str, container_actions: set[str]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        context = context_of(request)

        async def render(events: list[dict[str, Any]]) -> Fragments:
            fragments = engine_fragment(context, events)
            if relevant(events, kind, container_actions):
                items = await rows(context) if context.hub.engine_up else []
                fragments["rows"] = context.render(template, rows=items)
            return fragments

        return await context.live(request, render)

    return handler


async def list_page(request: web.Request, page: str, rows: Any) -> web.Response:
    context = context_of(request)
    try:
        items, error = await rows(context), ""
    except DockerError as e:
        items, error = [], e.for_user(f"list the {page}")
    return context.page(f"{page}.html", page=page, rows=items, error=error)


@routes.get("/images")
async def images_page(request: web.Request) -> web.Response:
    return await list_page(request, "images", image_rows)


@routes.get("/volumes")
async def volumes_page(request: web.Request) -> web.Response:
    return await list_page(request, "volumes", volume_rows)


routes.get("/live/images")(
    live_list("images_rows.html", image_rows, "image", IMAGE_CONTAINER_ACTIONS)
)
routes.get("/live/volumes")(
    live_list("volumes_rows.html", volume_rows, "volume", VOLUME_CONTAINER_ACTIONS)
)


@routes.post("/images/delete")
async def images_delete(request: web.Request) -> web.Response:
    context = context_of(request)
    form = await request.post()
    image = str(form.get("id", ""))
    try:
        await context.docker.request(
            "DELETE", f"/images/{image}", {"force": bool(form.get("force"))}
        )
    except DockerError as e:
        return context.failed(e, "delete the image")
    return context.toast("Image deleted.")


@routes.post("/images/prune")
async def images_prune(request: web.Request) -> web.Response:
    context = context_of(request)
    form = await request.post()
    filters = {} if form.get("all") else {"dangling": ["true"]}
    try:
        report = await context.docker.request(
            "POST", "/images/prune", {"filters": filters}, timeout=600
        )
    except DockerError as e:
        return context.failed(e, "prune the images")
    count = len(report.get("ImagesDeleted") or [])
    return context.toast(
        f"Removed {views.plural(count, 'image')}, "
        f"{views.human_size(report.get('SpaceReclaimed', 0))} reclaimed."
    )


@routes.post("/volumes/delete")
async def volumes_delete(request: web.Request) -> web.Response:
    context = context_of(request)
    form = await request.post()
    try:
        await context.docker.request("DELETE", f"/volumes/{form.get('name', '')}")
    except DockerError as e:
        return context.failed(e, "delete the volume")
    return context.toast("Volume deleted.")


@routes.post("/volumes/prune")
async def volumes_prune(request: web.Request) -> web.Response:
    context = context_of(request)
    form = await request.post()
    filters = {"all": ["true"]} if form.get("all") else {}
    try:
        report = await context.docker.request(
            "POST", "/volumes/prune", {"filters": filters}, timeout=600
        )
    except DockerError as e:
        return context.failed(e, "prune the volumes")
    count = len(report.get("VolumesDeleted") or [])
    return context.toast(
        f"Removed {views.plural(count, 'volume')}, "
        f"{views.human_size(report.get('SpaceReclaimed', 0))} reclaimed."
    )


class PullJob:
    """A pull under way: the latest progress per layer, and who is watching it."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.layers: dict[str, dict[str, Any]] = {}
        self.status = "Starting"
        self.error = ""
        self.done = False
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def update(self, message: dict[str, Any]) -> None:
        status = str(message.get("status", ""))
        if message.get("errorDetail") or message.get("error"):
            self.error = (message.get("errorDetail") or {}).get("message") or message["error"]
        elif message.get("id") and status.startswith(LAYER_STATUSES):
            self.layers[message["id"]] = message
        elif status:
            self.status = f"{message['id']}: {status}" if message.get("id") else status
        self.changed.set()

    def percent(self) -> int:
        current = sum(
            (m.get("progressDetail") or {}).get("current", 0) for m in self.layers.values()
        )
        total = sum((m.get("progressDetail") or {}).get("total", 0) for m in self.layers.values())
        finished = all(
            str(m.get("status", "")).startswith(
                ("Pull complete", "Already exists", "Download complete")
            )
            for m in self.layers.values()
        )
        if self.done or (self.layers and finished):
            return 100
        return int(current * 100 / total) if total else 0


async def run_pull(context: Context, job: PullJob) -> None:
    name, _, tag = job.reference.partition("@")[0].rpartition(":")
    if not name or "/" in tag:
        name, tag = job.reference, "latest"
    try:
        async for message in context.docker.json_stream(
            "POST", "/images/create", {"fromImage": name, "tag": tag}
        ):
            job.update(message)
    except DockerError as e:
        job.error = e.for_user(f"pull {job.reference}")
    job.done = True
    job.changed.set()


@routes.post("/images/pull")
async def images_pull(request: web.Request) -> web.Response:
    context = context_of(request)
    form = await request.post()
    reference = str(form.get("reference", "")).strip()
    if not reference:
        return context.toast("Type an image name to pull, like alpine:latest.", error=True)
    job_id = secrets.token_hex(8)
    job = context.pulls[job_id] = PullJob(reference)
    job.task = asyncio.create_task(run_pull(context, job))
    return web.Response(
        text=context.render("pull.html", job=job, job_id=job_id), content_type="text/html"
    )


@routes.get("/images/pull/{job}")
async def pull_progress(request: web.Request) -> web.StreamResponse:
    context = context_of(request)
    job = context.pulls.get(request.match_info["job"])
    if not isinstance(job, PullJob):
        raise web.HTTPNotFound(text="no such pull")
    response = await open_stream(request)
    while True:
        job.changed.clear()
        html = context.render("pull_progress.html", job=job)
        await response.write(encode_event("progress", html))
        if job.done:
            await response.write(encode_event("done", ""))
            context.pulls.pop(request.match_info["job"], None)
            return response
        await job.changed.wait()
