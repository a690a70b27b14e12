"""Containers: the grouped, live list with actions, and one container's page (state, live
usage, logs that follow, inspect; the terminal is in terminal.py)."""

import asyncio
import json
from typing import Any

from aiohttp import web

from ketch.host.desktop import container_streams as streams
from ketch.host.desktop import views
from ketch.host.desktop.docker import DockerError
from ketch.host.desktop.live import Fragments
from ketch.host.desktop.ui import Context, context_of

routes = web.RouteTableDef()
ACTIONS = {
    "start": ("POST", "/containers/{id}/start", "start"),
    "stop": ("POST", "/containers/{id}/stop", "stop"),
    "restart": ("POST", "/containers/{id}/restart", "restart"),
    "pause": ("POST", "/containers/{id}/pause", "pause"),
    "unpause": ("POST", "/containers/{id}/unpause", "resume"),
    "kill": ("POST", "/containers/{id}/kill", "kill"),
    "delete": ("DELETE", "/containers/{id}", "delete"),
}
ROW_ACTIONS = {
    "create",
    "start",
    "restart",
    "stop",
    "die",
    "kill",
    "oom",
    "pause",
    "unpause",
    "rename",
    "update",
    "destroy",
    "health_status",
}


async def container_groups(context: Context) -> list[views.ContainerGroup]:
    return views.container_groups(await context.docker.get("/containers/json", all=True))


def engine_fragment(context: Context, events: list[dict[str, Any]]) -> Fragments:
    if any(e.get("Type") == "engine" for e in events):
        return {"engine": context.render("engine_pill.html")}
    return {}


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/containers")


@routes.get("/containers")
async def containers_page(request: web.Request) -> web.Response:
    context = context_of(request)
    try:
        groups, error = await container_groups(context), ""
    except DockerError as e:
        groups, error = [], e.for_user("list the containers")
    return context.page("containers.html", page="containers", groups=groups, error=error)


@routes.get("/live/containers")
async def containers_live(request: web.Request) -> web.StreamResponse:
    """The engine's state changes the whole list; a container's event only its own row."""
    context = context_of(request)

    async def render(events: list[dict[str, Any]]) -> Fragments:
        fragments = engine_fragment(context, events)
        if fragments:
            groups = await container_groups(context) if context.hub.engine_up else []
            fragments["rows"] = context.render("containers_rows.html", groups=groups)
            return fragments
        changed = changed_containers(events)
        if not changed:
            return fragments
        summaries = await context.docker.get(
            "/containers/json", all=True, filters={"id": sorted(changed)}
        )
        rows = [views.container_row(s) for s in summaries if s["Id"] in changed]
        if rows:
            fragments["upsert"] = "".join(
                context.render("container_row.html", c=row) for row in rows
            )
        if gone := changed - {row.id for row in rows}:
            fragments["remove"] = "".join(f'<tr data-id="{i}"></tr>' for i in sorted(gone))
        return fragments

    return await context.live(request, render)


def changed_containers(events: list[dict[str, Any]]) -> set[str]:
    """Containers whose row these events change (exec, attach, resize, top... change none)."""
    return {
        str((e.get("Actor") or {}).get("ID"))
        for e in events
        if e.get("Type") == "container"
        and (e.get("Actor") or {}).get("ID")
        and str(e.get("Action", "")).split(":")[0] in ROW_ACTIONS
    }


async def act(context: Context, action: str, container_id: str) -> None:
    method, path, _ = ACTIONS[action]
    params = {"force": True} if action == "delete" else None
    await context.docker.request(method, path.format(id=container_id), params, timeout=120)


@routes.post("/containers/action")
async def container_action(request: web.Request) -> web.Response:
    """One action on one or more containers (bulk select posts several ids)."""
    context = context_of(request)
    form = await request.post()
    action = str(form.get("action", ""))
    ids = [str(i) for i in form.getall("id", [])]
    if action not in ACTIONS:
        return context.toast(f"Unknown action {action!r}.", error=True)
    if not ids:
        return context.toast("Select at least one container first.", error=True)
    results = await asyncio.gather(*(act(context, action, i) for i in ids), return_exceptions=True)
    errors = [r for r in results if isinstance(r, DockerError)]
    if errors:
        verb = ACTIONS[action][2]
        return context.toast(
            " ".join(e.for_user(f"{verb} the container") for e in errors), error=True
        )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    done = {
        "delete": "deleted",
        "stop": "stopped",
        "kill": "killed",
        "pause": "paused",
        "unpause": "resumed",
        "start": "started",
        "restart": "restarted",
    }[action]
    count = f"{len(ids)} containers" if len(ids) > 1 else "Container"
    return context.toast(f"{count} {done}.")


@routes.get("/containers/{id}")
async def container_page(request: web.Request) -> web.Response:
    context = context_of(request)
    try:
        inspect = await context.docker.get(f"/containers/{request.match_info['id']}/json")
    except DockerError as e:
        if e.status == 404:
            raise web.HTTPFound("/containers") from e
        return context.page("error.html", page="containers", error=e.for_user("show the container"))
    return context.page(
        "container.html",
        page="containers",
        c=inspect,
        name=inspect["Name"].lstrip("/"),
        inspect_json=json.dumps(inspect, indent=2),
    )


@routes.get("/live/containers/{id}")
async def container_live(request: web.Request) -> web.StreamResponse:
    """The page's one stream: state and inspect on the container's events, the engine's
    state, the logs (since= a time, when the page comes back into view) and the usage."""
    context = context_of(request)
    try:
        inspect = await context.docker.get(f"/containers/{request.match_info['id']}/json")
    except DockerError as e:
        raise web.HTTPNotFound(text=e.for_user("follow the container")) from e
    container_id, tty = inspect["Id"], bool(inspect["Config"].get("Tty"))

    async def render(events: list[dict[str, Any]]) -> Fragments:
        fragments = engine_fragment(context, events)
        if container_id in changed_containers(events):
            try:
                inspect = await context.docker.get(f"/containers/{container_id}/json")
            except DockerError:
                inspect = None
            fragments["state"] = context.render("container_state.html", c=inspect)
            if inspect is not None:  # the Inspect tab follows too (an out-of-band swap)
                fragments["state"] += context.render(
                    "inspect.html", inspect_json=json.dumps(inspect, indent=2), oob=True
                )
        return fragments

    return await context.live(
        request,
        render,
        (
            streams.logs(context, container_id, tty, request.query.get("since")),
            streams.usage(context, container_id),
        ),
    )
