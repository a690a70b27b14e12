"""The instructions that change files: RUN (in a container), COPY/ADD, WORKDIR's mkdir."""

import asyncio
import contextlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from ketch.guest.engine.build import copy as copying
from ketch.guest.engine.build.dockerfile import HEREDOC_WORD, Instruction
from ketch.guest.engine.build.instructions import check_flags, command_form
from ketch.guest.engine.build.rootfs import rootfs_view
from ketch.guest.engine.build.shellwords import process_word, split_raw_words
from ketch.guest.engine.containers import users
from ketch.guest.engine.containers.inroot import host_path
from ketch.guest.engine.errors import InvalidParameter, NotFound

if TYPE_CHECKING:
    from ketch.guest.engine.build.builder import Builder
    from ketch.guest.engine.images.image import Image

# --link only changes how BuildKit stores the layer, not its content: accepted. --parents and
# --exclude (BuildKit labs) are refused by the check ("unknown flag") rather than ignored.
COPY_FLAGS = ("from", "chown", "chmod", "link")
SHEBANG_SCRIPT = (
    "f=$(mktemp) && cat > \"$f\" <<'KETCH_HEREDOC_EOF'\n{body}KETCH_HEREDOC_EOF\n"
    'chmod +x "$f" && "$f"; rc=$?; rm -f "$f"; exit $rc'
)
ADD_FLAGS = ("chown", "chmod", "checksum", "link")


def tmp_folder(builder: "Builder") -> str:
    folder = builder.tmp_dir
    os.makedirs(folder, exist_ok=True)
    return folder


@contextlib.asynccontextmanager
async def image_rootfs(builder: "Builder", image: "Image | None") -> AsyncIterator[str]:
    layers = image.layer_dirs() if image is not None else []
    async with rootfs_view(layers, tmp_folder(builder)) as root:
        yield root


@contextlib.contextmanager
def layer_folder(builder: "Builder") -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="layer-", dir=tmp_folder(builder))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- WORKDIR -----------------------------------------------------------------------------------


async def workdir_step(builder: "Builder", comment: str) -> None:
    """WORKDIR creates its folder when the image lacks it (a small layer), else config only."""
    from ketch.guest.engine.build.builder import NOP

    assert builder.state is not None
    created_by = NOP + comment
    if await builder.use_cache(created_by):
        return
    workdir = builder.state.config["WorkingDir"]
    with layer_folder(builder) as upper:
        async with image_rootfs(builder, builder.image) as root:
            exists = os.path.isdir(host_path(root, workdir))
            if not exists:
                copying.make_folder(root, upper, workdir)
        if exists:
            await builder.commit_config(comment)
        else:
            await builder.commit(created_by, upper)


# -- COPY / ADD --------------------------------------------------------------------------------


async def copy_step(builder: "Builder", inst: Instruction) -> None:
    from ketch.guest.engine.build.builder import NOP

    state = builder.state
    assert state is not None
    keyword = inst.keyword.upper()
    check_flags(inst, COPY_FLAGS if inst.keyword == "copy" else ADD_FLAGS)
    exec_form = inst.json_args()
    words = (
        [state.expand(w) for w in exec_form]
        if exec_form is not None
        else [
            state.expand(w) if not HEREDOC_WORD.match(w) else w
            for w in split_raw_words(inst.args, state.escape)
        ]
    )
    if len(words) < 2:
        raise InvalidParameter(
            f"{keyword} requires at least two arguments, but only one was "
            "provided. Destination could not be determined."
        )
    *source_args, dest_arg = words
    dest = copying.resolve_dest(dest_arg, state.config.get("WorkingDir") or "/")
    from_name = state.expand(inst.flags.get("from", ""))
    chown = state.expand(inst.flags.get("chown", ""))
    chmod = inst.flags.get("chmod", "")
    mode = None
    if chmod:
        try:
            mode = int(chmod, 8)
        except ValueError:
            raise InvalidParameter(f"invalid chmod parameter: {chmod}") from None
    async with contextlib.AsyncExitStack() as scratch:
        upper = scratch.enter_context(layer_folder(builder))
        source_root = await _source_root(builder, from_name, scratch)
        sources = await _collect_sources(builder, inst, source_args, source_root, scratch)
        digest = await asyncio.to_thread(copying.checksum, sources)
        created_by = (
            f"{NOP}{keyword} {'file' if len(sources) == 1 else 'multi'}:{digest} in {dest} "
        )
        if chown or chmod:
            created_by += f"--chown={chown} --chmod={chmod} "
        if await builder.use_cache(created_by):
            return
        async with image_rootfs(builder, builder.image) as root:
            owner = _ownership(root, chown, mode)
            await asyncio.to_thread(
                copying.copy_sources, sources, dest, root, upper, owner, keyword
            )
        await builder.commit(created_by, upper)


async def _source_root(
    builder: "Builder", from_name: str, scratch: contextlib.AsyncExitStack
) -> str:
    """The folder to read sources from: the --from stage's or image's rootfs, or the context."""
    if not from_name:
        return builder.context.root
    stage = from_name.lower()
    image: Image | None
    if stage in builder.stage_images:
        image = builder.stage_images[stage]
    elif from_name.isdigit():
        raise InvalidParameter(
            f"invalid from flag value {from_name}: refers to current build stage"
        )
    else:
        try:
            image = builder.images.resolve(from_name)
        except NotFound:
            image = await builder.base_image(from_name, builder.options.platform)
    return await scratch.enter_async_context(image_rootfs(builder, image))


async def _collect_sources(
    builder: "Builder",
    inst: Instruction,
    args: list[str],
    root: str,
    scratch: contextlib.AsyncExitStack,
) -> list[copying.Source]:
    state = builder.state
    assert state is not None
    heredocs = {h.name: h for h in inst.heredocs}
    sources: list[copying.Source] = []
    for arg in args:
        match = HEREDOC_WORD.match(arg)
        if match and match.group(3) in heredocs:
            doc = heredocs[match.group(3)]
            folder = tempfile.mkdtemp(prefix="heredoc-", dir=tmp_folder(builder))
            scratch.callback(shutil.rmtree, folder, True)
            content = (
                process_word(doc.content, state.env(), state.escape) if doc.expand else doc.content
            )
            with open(os.path.join(folder, doc.name), "w", encoding="utf-8") as f:
                f.write(content)
            os.chmod(os.path.join(folder, doc.name), 0o644)
            sources.append(copying.Source(folder, doc.name))
        elif inst.keyword == "add" and arg.startswith(("http://", "https://")):
            sources.append(await _download(builder, arg, inst.flags.get("checksum", ""), scratch))
        elif root != builder.context.root:
            for path in copying.match_sources(host_path(root, "/"), [arg], inst.keyword.upper()):
                real = host_path(root, path, follow_last=False)
                sources.append(copying.Source(os.path.dirname(real), os.path.basename(real)))
        else:
            for path in copying.match_sources(root, [arg], inst.keyword.upper()):
                extract = inst.keyword == "add" and copying.is_archive(os.path.join(root, path))
                sources.append(copying.Source(root, path, extract))
    return sources


async def _download(
    builder: "Builder", url: str, checksum: str, scratch: contextlib.AsyncExitStack
) -> copying.Source:
    """ADD <url>: fetched into a temp folder (mode 0600, mtime from Last-Modified), checked
    against --checksum when given."""
    import email.utils
    import hashlib

    import aiohttp

    folder = tempfile.mkdtemp(prefix="url-", dir=tmp_folder(builder))
    scratch.callback(shutil.rmtree, folder, True)
    name = posixpath.basename(url.split("?", 1)[0].rstrip("/")) or "download"
    path = os.path.join(folder, name)
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            if response.status >= 400:
                raise InvalidParameter(
                    f"failed to GET {url} with status {response.status} {response.reason}"
                )
            digest = hashlib.sha256()
            with open(path, "wb") as f:
                async for chunk in response.content.iter_chunked(1 << 16):
                    f.write(chunk)
                    digest.update(chunk)
            modified = response.headers.get("Last-Modified")
    except aiohttp.ClientError as e:
        raise InvalidParameter(f"failed to GET {url}: {e}") from e
    actual = "sha256:" + digest.hexdigest()
    if checksum and checksum != actual:
        raise InvalidParameter(f"digest mismatch {actual}: {checksum}")
    os.chmod(path, 0o600)
    if modified:
        with contextlib.suppress(TypeError, ValueError):
            stamp = email.utils.parsedate_to_datetime(modified).timestamp()
            os.utime(path, (stamp, stamp))
    return copying.Source(folder, name)


def _ownership(root: str, chown: str, mode: int | None) -> copying.Ownership:
    if not chown:
        return copying.Ownership(mode=mode)
    uid, gid = users.chown_ids(root, chown)
    return copying.Ownership(uid, gid, mode)


# -- RUN ---------------------------------------------------------------------------------------


def run_command(builder: "Builder", inst: Instruction) -> list[str]:
    """The argv a RUN executes; heredocs become the script (or stay for the shell to read)."""
    state = builder.state
    assert state is not None
    for flag in ("mount", "network", "security"):
        if flag in inst.flags:
            raise InvalidParameter(
                f"the --{flag} option requires BuildKit. Refer to "
                "https://docs.docker.com/go/buildkit/ to learn how to "
                "build images with BuildKit enabled"
            )
    check_flags(inst, ())
    if inst.heredocs and inst.json_args() is None:
        words = split_raw_words(inst.args, state.escape)
        if len(words) == 1 and len(inst.heredocs) == 1:
            content = inst.heredocs[0].content
            if content.startswith("#!"):
                # A script with its own interpreter: written to a temp file and executed.
                return [*state.shell(), SHEBANG_SCRIPT.format(body=content)]
            return [*state.shell(), content]
        script = inst.args + "\n" + "".join(f"{h.content}{h.name}\n" for h in inst.heredocs)
        return [*state.shell(), script]
    argv, _ = command_form(inst, state)
    return argv


async def run_step(builder: "Builder", inst: Instruction) -> None:
    from ketch.guest.engine.build import runner
    from ketch.guest.engine.build.builder import StepFailed

    state = builder.state
    assert state is not None
    argv = run_command(builder, inst)
    args = state.run_args()
    declared = state.declared_args()
    created_by = " ".join(argv)
    if declared:
        created_by = (
            f"|{len(declared)} "
            + " ".join(f"{k}={v}" for k, v in sorted(declared.items()))
            + " "
            + created_by
        )
    if await builder.use_cache(created_by):
        return
    result = await runner.run_container(builder, argv, args)
    try:
        if result.exit_code != 0:
            raise StepFailed(
                f"The command '{' '.join(argv)}' returned a non-zero code: {result.exit_code}",
                result.exit_code,
            )
        image = await builder.commit(created_by, result.upper_dir, announce=False)
    finally:
        await runner.remove_container(builder, result, failed=result.exit_code != 0)
    await builder.arrow(image.short_id)
