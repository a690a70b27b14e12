"""Routes for /containers: parse the request, call ContainerService, shape the answer."""

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ketch.guest.api.hijack import hijack
from ketch.guest.api.httputil import (
    engine_of,
    json_response,
    no_content,
    parse_int,
    query_bool,
    query_filters,
    query_int,
    query_terminal_size,
    read_model,
    stream_bytes,
    stream_json_lines,
)
from ketch.guest.api.routing import Route
from ketch.guest.engine.containers import attach as attach_mod
from ketch.guest.engine.containers import logs as logs_mod
from ketch.guest.engine.containers import observe, views
from ketch.guest.engine.containers.streams import mux_frame, parse_detach_keys
from ketch.guest.engine.errors import Conflict, InvalidParameter
from ketch.guest.engine.models.base import to_plain
from ketch.guest.engine.models.containers import Config, CreateRequest, UpdateConfig
from ketch.guest.engine.timestamps import parse_timestamp_ns
from ketch.guest.store.images import reference


def _service(request: web.Request) -> Any:
    return engine_of(request).containers


def _container(request: web.Request) -> Any:
    return _service(request).get(request.match_info["name"])


async def list_containers(request: web.Request) -> web.Response:
    service = _service(request)
    filters = query_filters(request)
    size = query_bool(request, "size")
    found = views.matching(
        service, filters, query_bool(request, "all"), query_int(request, "limit", -1) or -1
    )
    entries = [views.list_entry(service, c, size) for c in found]
    return json_response(entries)


async def create(request: web.Request) -> web.Response:
    body = await read_model(request, CreateRequest, required=True)
    if all(getattr(body, field) is None for field in Config.__struct_fields__):
        raise InvalidParameter("config cannot be empty in order to create a container")
    body.validate_networking()
    name = request.query.get("name")
    c = await _service(request).create(to_plain(body), name)
    return json_response({"Id": c.id, "Warnings": []}, status=201)


async def inspect(request: web.Request) -> web.Response:
    service = _service(request)
    return json_response(views.inspect(service, _container(request), query_bool(request, "size")))


async def start(request: web.Request) -> web.Response:
    if request.query.get("detachKeys"):
        parse_detach_keys(request.query["detachKeys"])
    await _service(request).start_container(request.match_info["name"])
    return no_content()


def _timeout(request: web.Request) -> int | None:
    return query_int(request, "t", None)


async def stop(request: web.Request) -> web.Response:
    await _service(request).stop(
        request.match_info["name"], _timeout(request), request.query.get("signal")
    )
    return no_content()


async def restart(request: web.Request) -> web.Response:
    await _service(request).restart(
        request.match_info["name"], _timeout(request), request.query.get("signal")
    )
    return no_content()


async def kill(request: web.Request) -> web.Response:
    await _service(request).kill(request.match_info["name"], request.query.get("signal"))
    return no_content()


async def pause(request: web.Request) -> web.Response:
    await _service(request).pause(request.match_info["name"])
    return no_content()


async def unpause(request: web.Request) -> web.Response:
    await _service(request).unpause(request.match_info["name"])
    return no_content()


async def rename(request: web.Request) -> web.Response:
    _service(request).rename(request.match_info["name"], request.query.get("name", ""))
    return no_content()


async def remove(request: web.Request) -> web.Response:
    if query_bool(request, "link"):
        raise InvalidParameter("Conflict, cannot remove the default link name of the container")
    await _service(request).remove(
        request.match_info["name"], query_bool(request, "force"), query_bool(request, "v")
    )
    return no_content()


async def wait(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    c = _container(request)
    condition = request.query.get("condition", "")
    if condition not in ("", "not-running", "next-exit", "removed"):
        raise InvalidParameter(f'invalid condition: "{condition}"')
    # Moby sends the header at once so `docker run` knows the wait is in place before start.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    result = await service.unless_shutdown(service.wait(c, condition))
    if result is None:
        result = {"StatusCode": -1, "Error": {"Message": "daemon is shutting down"}}
    with contextlib.suppress(ConnectionError):
        await response.write(json.dumps(result).encode() + b"\n")
        await response.write_eof()
    return response


async def prune(request: web.Request) -> web.Response:
    filters = query_filters(request, ("label", "label!", "until"))
    deleted, reclaimed = await _service(request).prune(filters)
    return json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed})


async def resize(request: web.Request) -> web.Response:
    height, width = query_terminal_size(request)
    _service(request).resize(request.match_info["name"], height, width)
    return no_content()


async def attach(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    c = _container(request)
    if c.state.get("Paused"):
        raise Conflict("You cannot attach to a paused container, unpause it first")
    if c.state.get("Restarting"):
        raise Conflict("You cannot attach to a restarting container, wait until it is running")
    keys = parse_detach_keys(request.query.get("detachKeys", ""))
    opts = attach_mod.AttachOptions(
        stdin=query_bool(request, "stdin"),
        stdout=query_bool(request, "stdout"),
        stderr=query_bool(request, "stderr"),
        detach_keys=keys,
    )
    logs_first = query_bool(request, "logs")
    streaming = query_bool(request, "stream")
    conn = await hijack(request, c.tty)
    try:
        if logs_first:
            log_opts = logs_mod.LogOptions(stdout=opts.stdout, stderr=opts.stderr)
            lines, _ = logs_mod.read_existing(service.lifecycle.log_path(c), log_opts)
            for line in lines:
                await conn.write(line.stream, line.data)
        if streaming:
            service.publish(c, "attach")
            outcome = await service.unless_shutdown(
                attach_mod.attach(
                    service, c, opts, conn.stdin() if opts.stdin else None, conn.write
                )
            )
            if outcome == "detached":
                service.publish(c, "detach")
    except (ConnectionError, asyncio.CancelledError):
        pass
    return await conn.close()


async def logs(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    c = _container(request)
    stdout, stderr = query_bool(request, "stdout"), query_bool(request, "stderr")
    if not (stdout or stderr):
        raise InvalidParameter("Bad parameters: you must choose at least one stream")
    driver = (c.host_config.get("LogConfig") or {}).get("Type", "json-file")
    if driver not in ("json-file", "local", "k8s-file", "journald"):
        raise InvalidParameter("configured logging driver does not support reading")
    now = time.time_ns()
    since = request.query.get("since")
    until = request.query.get("until")
    tail_text = request.query.get("tail", "all")
    tail = -1 if tail_text in ("all", "") else parse_int(tail_text, "tail")
    opts = logs_mod.LogOptions(
        stdout=stdout,
        stderr=stderr,
        since_ns=parse_timestamp_ns(since, now) if since and since != "0" else 0,
        until_ns=parse_timestamp_ns(until, now) if until and until != "0" else 0,
        tail=tail,
        follow=query_bool(request, "follow"),
        timestamps=query_bool(request, "timestamps"),
    )
    content_type = (
        "application/vnd.docker.raw-stream"
        if c.tty
        else "application/vnd.docker.multiplexed-stream"
    )
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.enable_chunked_encoding()
    await response.prepare(request)

    async def send(line: Any) -> None:
        data = logs_mod.render(line, opts)
        await response.write(data if c.tty else mux_frame(line.stream, data))

    path = service.lifecycle.log_path(c)
    lines, end = await asyncio.to_thread(logs_mod.read_existing, path, opts)
    with contextlib.suppress(ConnectionError):
        for line in lines:
            await send(line)
        if opts.follow and (c.running or c.state.get("Restarting")):
            async for line in logs_mod.follow(
                path,
                end,
                opts,
                lambda: c.running and not c.removed and not service.shutting_down.is_set(),
            ):
                await send(line)
        await response.write_eof()
    return response


async def update(request: web.Request) -> web.Response:
    body = await read_model(request, UpdateConfig)
    warnings = await _service(request).update(request.match_info["name"], to_plain(body))
    return json_response({"Warnings": warnings})


async def top(request: web.Request) -> web.Response:
    service = _service(request)
    return json_response(
        await observe.top(service, _container(request), request.query.get("ps_args", ""))
    )


async def stats(request: web.Request) -> web.StreamResponse:
    c = _container(request)
    stream = query_bool(request, "stream", True)
    one_shot = query_bool(request, "one-shot")
    if one_shot and stream:
        raise InvalidParameter("cannot have stream=true and one-shot=true")
    if not stream:
        samples = [s async for s in observe.stats(c, False, one_shot)]
        return json_response(samples[-1])
    service = _service(request)

    async def readings() -> AsyncIterator[dict[str, Any]]:
        async for reading in observe.stats(c, True, False):
            yield reading
            if service.shutting_down.is_set():
                return

    return await stream_json_lines(request, readings())


def _stat_header(info: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(info).encode()).decode()


async def archive_head(request: web.Request) -> web.Response:
    service = _service(request)
    c = _container(request)
    path = _archive_path(request)
    info = await service.files.stat(c, request.match_info["name"], path)
    return web.Response(
        status=200,
        headers={
            "X-Docker-Container-Path-Stat": _stat_header(info),
            "Content-Type": "application/json",
        },
    )


PATH_MAX, NAME_MAX = 4096, 255  # Linux's limits on a path and on each of its names


def _archive_path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("bad parameter: 'path' cannot be empty")
    if len(path.encode()) >= PATH_MAX or any(
        len(part.encode()) > NAME_MAX for part in path.split("/")
    ):
        raise InvalidParameter(f"bad parameter: 'path' {path[:64]}...: file name too long")
    return path if path.startswith("/") else "/" + path


async def archive_get(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    c = _container(request)
    info, chunks = await service.files.get_archive(
        c, request.match_info["name"], _archive_path(request)
    )
    return await stream_bytes(
        request,
        chunks,
        {"Content-Type": "application/x-tar", "X-Docker-Container-Path-Stat": _stat_header(info)},
    )


async def archive_put(request: web.Request) -> web.Response:
    service = _service(request)
    c = _container(request)

    async def body() -> Any:
        async for chunk in request.content.iter_chunked(65536):
            yield chunk

    await service.files.put_archive(
        c,
        request.match_info["name"],
        _archive_path(request),
        body(),
        query_bool(request, "noOverwriteDirNonDir"),
        query_bool(request, "copyUIDGID"),
    )
    return web.Response(status=200)


async def export(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    c = _container(request)
    return await stream_bytes(
        request, service.files.export(c), {"Content-Type": "application/x-tar"}
    )


async def changes(request: web.Request) -> web.Response:
    service = _service(request)
    result = await asyncio.to_thread(service.files.changes, _container(request))
    return json_response(result or None)


async def commit(request: web.Request) -> web.Response:
    service = _service(request)
    image_ref = reference.repo_tag_reference(
        request.query.get("repo", ""), request.query.get("tag", "")
    )
    c = service.get(request.query.get("container", ""))
    # Moby decodes a commit's body as a create request and keeps its Config
    request_body = to_plain(await read_model(request, CreateRequest))
    overrides = {k: v for k, v in request_body.items() if k in Config.__struct_fields__}
    changes_list = request.query.getall("changes", [])
    changes_list = [line for item in changes_list for line in item.splitlines() if line.strip()]
    image_id = await service.files.commit(
        c,
        image_ref.familiar_name if image_ref else "",
        image_ref.tag if image_ref else "",
        request.query.get("comment", ""),
        request.query.get("author", ""),
        query_bool(request, "pause", True),
        overrides,
        changes_list,
    )
    return json_response({"Id": image_id}, status=201)


ROUTES: list[Route] = [
    ("GET", "/containers/json", list_containers),
    ("POST", "/containers/create", create),
    ("POST", "/containers/prune", prune),
    ("GET", "/containers/{name}/json", inspect),
    ("POST", "/containers/{name}/start", start),
    ("POST", "/containers/{name}/stop", stop),
    ("POST", "/containers/{name}/restart", restart),
    ("POST", "/containers/{name}/kill", kill),
    ("POST", "/containers/{name}/pause", pause),
    ("POST", "/containers/{name}/unpause", unpause),
    ("POST", "/containers/{name}/rename", rename),
    ("POST", "/containers/{name}/update", update),
    ("POST", "/containers/{name}/wait", wait),
    ("POST", "/containers/{name}/resize", resize),
    ("POST", "/containers/{name}/attach", attach),
    ("GET", "/containers/{name}/logs", logs),
    ("DELETE", "/containers/{name}", remove),
    ("GET", "/containers/{name}/top", top),
    ("GET", "/containers/{name}/stats", stats),
    ("HEAD", "/containers/{name}/archive", archive_head),
    ("GET", "/containers/{name}/archive", archive_get),
    ("PUT", "/containers/{name}/archive", archive_put),
    ("GET", "/containers/{name}/export", export),
    ("GET", "/containers/{name}/changes", changes),
    ("POST", "/commit", commit),
]
