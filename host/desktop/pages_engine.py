"""Engine (state, readiness stages, resources, start/stop/restart), Settings and Troubleshoot."""

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from ketch.common.proc import ToolError
from ketch.host.commands.doctor import checks as doctor_checks
from ketch.host.config import ConfigError
from ketch.host.desktop import engine as engine_control
from ketch.host.desktop.docker import DockerError
from ketch.host.desktop.hub import engine_event
from ketch.host.desktop.live import Fragments, serve_live
from ketch.host.desktop.pages_containers import engine_fragment
from ketch.host.desktop.ui import Context, context_of
from ketch.host.desktop.views import human_size

routes = web.RouteTableDef()


async def engine_facts(context: Context) -> dict[str, Any]:
    """The engine's /version and /info, or the reason it does not answer."""
    try:
        version, info = await asyncio.gather(
            context.docker.get("/version"), context.docker.get("/info")
        )
    except DockerError as e:
        return {"error": e.for_user("reach the engine")}
    return {"version": version, "info": info, "memory": human_size(info.get("MemTotal"))}


async def engine_values(context: Context) -> dict[str, Any]:
    status, facts = await asyncio.gather(context.engine.status(), engine_facts(context))
    return {
        "status": status,
        "facts": facts,
        "busy": context.engine.busy,
        "stages": context.engine.stages,
        "settings": context.engine.settings() if context.engine.instance else None,
    }


@routes.get("/engine")
async def engine_page(request: web.Request) -> web.Response:
    context = context_of(request)
    return context.page("engine.html", page="engine", **await engine_values(context))


@routes.get("/live/engine")
async def engine_live(request: web.Request) -> web.StreamResponse:
    context = context_of(request)

    async def render(events: list[dict[str, Any]]) -> Fragments:
        fragments = engine_fragment(context, events)
        if any(e.get("Type") == "engine" for e in events):
            html = context.render("engine_details.html", **await engine_values(context))
            for event in events:  # an action's end also shows as a message (out of band)
                if event.get("Type") == "engine" and event.get("Action") in ("done", "failed"):
                    html += context.render(
                        "toast.html", message=event["message"], error=event["Action"] == "failed"
                    )
            fragments["details"] = html
        return fragments

    return await context.live(request, render)


def tray_status(context: Context) -> str:
    if context.engine.busy:
        return context.engine.busy
    return "running" if context.hub.engine_up else "stopped"


@routes.get("/live/tray")
async def tray_live(request: web.Request) -> web.StreamResponse:
    """The engine's state for the tray icon, pushed as it changes."""
    context = context_of(request)

    async def render(events: list[dict[str, Any]]) -> Fragments:
        if any(e.get("Type") == "engine" for e in events):
            return {"status": tray_status(context)}
        return {}

    return await serve_live(request, context.hub, render, first={"status": tray_status(context)})


@routes.post("/engine/{action:start|stop|restart}")
async def engine_action(request: web.Request) -> web.Response:
    return begin_engine_action(context_of(request), request.match_info["action"])


def begin_engine_action(context: Context, action: str) -> web.Response:
    """Run start/stop/restart in the background; its stages reach the pages as events."""
    if context.engine.busy:
        return context.toast(f"The engine is already {context.engine.busy}.", error=True)

    def on_line(line: str) -> None:
        context.hub.publish(engine_event("progress", line=line))

    async def run() -> None:
        ok, message = await context.engine.action(action, on_line)
        context.hub.wake()
        context.hub.publish(engine_event("done" if ok else "failed", message=message))

    context.engine.task = asyncio.create_task(run())
    doing = {"start": "Starting", "stop": "Stopping", "restart": "Restarting"}[action]
    return context.toast(f"{doing} the engine; the stages show on the Engine page.")


@routes.get("/live/{page:settings|troubleshoot}")
async def static_page_live(request: web.Request) -> web.StreamResponse:
    """Pages whose content does not follow events still show the engine's state."""
    context = context_of(request)

    async def render(events: list[dict[str, Any]]) -> Fragments:
        return engine_fragment(context, events)

    return await context.live(request, render)


@routes.post("/quit")
async def quit_app(request: web.Request) -> web.Response:
    """The tray's Quit: closes the window and stops this server (the engine keeps running)."""
    context = context_of(request)
    asyncio.get_running_loop().call_soon(context.quit)
    return web.Response(text="Quitting.\n")


@routes.get("/settings")
async def settings_page(request: web.Request) -> web.Response:
    context = context_of(request)
    error = ""
    try:
        settings = context.engine.settings()
    except ConfigError as e:
        settings, error = None, str(e)
    return context.page(
        "settings.html",
        page="settings",
        settings=settings,
        error=error,
        start_at_login=context.engine.starts_at_login(),
    )


@routes.post("/settings")
async def settings_save(request: web.Request) -> web.Response:
    context = context_of(request)
    form = await request.post()
    try:
        context.engine.save_settings(dict(form))
        context.engine.set_start_at_login(bool(form.get("start_at_login")))
    except ConfigError as e:
        return context.toast(f"Not saved: {e}", error=True)
    except (OSError, ToolError) as e:
        return context.toast(f"Saved, but start at login could not change: {e}", error=True)
    if form.get("apply") and context.engine.instance and context.engine.instance.agent_pid():
        return begin_engine_action(context, "restart")
    return context.toast("Saved. The new settings apply at the next engine restart.")


@routes.get("/troubleshoot")
async def troubleshoot_page(request: web.Request) -> web.Response:
    context = context_of(request)
    checks: list[Any] = []
    error = ""
    if context.engine.instance:
        try:
            checks = await asyncio.to_thread(doctor_checks, context.engine.instance)
        except (ConfigError, OSError) as e:
            error = f"The checks could not run: {e}"
    return context.page(
        "troubleshoot.html",
        page="troubleshoot",
        checks=checks,
        error=error,
        logs_folder=context.engine.logs_folder,
        instance_name=getattr(context.engine.instance, "name", ""),
    )


@routes.post("/troubleshoot/open-logs")
async def open_logs(request: web.Request) -> web.Response:
    context = context_of(request)
    if problem := await asyncio.to_thread(
        engine_control.open_in_file_manager, context.engine.logs_folder
    ):
        return context.toast(f"Could not open the logs folder: {problem}.", error=True)
    return context.toast(f"Opened {context.engine.logs_folder}.")


@routes.post("/troubleshoot/diagnostics")
async def diagnostics(request: web.Request) -> web.Response:
    context = context_of(request)
    checks: list[Any] = []
    if context.engine.instance:
        with contextlib.suppress(ConfigError, OSError):
            checks = await asyncio.to_thread(doctor_checks, context.engine.instance)
    facts = await engine_facts(context)
    try:
        path = await asyncio.to_thread(context.engine.diagnostics_bundle, facts, checks)
    except OSError as e:
        return context.toast(f"Could not write the bundle: {e}", error=True)
    return context.toast(f"Diagnostics written to {path}.")


@routes.post("/troubleshoot/reset")
async def factory_reset(request: web.Request) -> web.Response:
    """Deletes the instance (VM, disk, images, containers, volumes) after the user typed its
    name; the next start creates it afresh."""
    context = context_of(request)
    instance = context.engine.instance
    form = await request.post()
    if instance is None:
        return context.toast("Factory reset applies to a Ketch instance only.", error=True)
    if form.get("confirm") != instance.name:
        return context.toast(f"Type {instance.name!r} to confirm the factory reset.", error=True)
    code, tail = await engine_control.run_ketch(
        ["delete", "--name", instance.name], lambda line: None
    )
    if code != 0:
        return context.toast(f"Factory reset failed (exit {code}): {tail}", error=True)
    context.hub.wake()
    return context.toast("Factory reset done. Start the engine to create it afresh.")
