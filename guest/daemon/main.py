"""dockerd's entry point: options, locks, the engine, the API listeners and signal handling."""

import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import sys

from setproctitle import setproctitle

from ketch.common.version import API_VERSION, ENGINE_VERSION, KETCH_VERSION
from ketch.guest.api.app import build_app
from ketch.guest.api.server import ApiRunner
from ketch.guest.daemon import config as daemon_config
from ketch.guest.daemon import locks, systemd
from ketch.guest.daemon.config import ConfigError, DaemonConfig
from ketch.guest.daemon.listeners import start_sites
from ketch.guest.daemon.log import set_level, setup_logging
from ketch.guest.engine.engine import Engine
from ketch.guest.store.layout import Layout

log = logging.getLogger("ketch.daemon")


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        engine = Engine(self.config)
        await engine.start()
        app = build_app(engine)
        runner = ApiRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=self.config.shutdown_timeout,
        )
        await runner.setup()
        unix_paths = await start_sites(runner, self.config)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.reload(engine))
        log.info("Daemon has completed initialization")
        log.info(
            "API listen ready", extra={"fields": {"version": ENGINE_VERSION, "api": API_VERSION}}
        )
        systemd.notify("READY=1")  # Type=notify units (docker.service) start only now
        try:
            await self.stopping.wait()
            log.info("Processing signal 'terminated'")
        finally:
            systemd.notify("STOPPING=1")
            # Live streams (events, logs -f) end first so in-flight requests can finish.
            engine.begin_shutdown()
            await runner.cleanup()
            await engine.close()
            for path in unix_paths:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            log.info("Daemon shutdown complete")

    def reload(self, engine: Engine) -> None:
        try:
            applied = daemon_config.reload_values(self.config)
        except ConfigError as e:
            log.error(f"Error reloading the configuration: {e}")
            return
        set_level(self.config.log_level)
        log.info(f"Reloaded configuration: {json.dumps(applied, sort_keys=True)}")
        attrs = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in applied.items()}
        engine.publish_daemon_event("reload", attrs)


def raise_open_files_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit, as Go (and so Moby) does at start: every API
    connection, container stream and pipe is a descriptor. Never above the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:  # the kernel still caps descriptors at nr_open
        try:
            with open("/proc/sys/fs/nr_open", encoding="ascii") as f:
                target = int(f.read())
        except (OSError, ValueError):
            return
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as e:
        log.warning(f"could not raise the open files limit to {target}: {e}")


def main(argv: list[str] | None = None) -> int:
    try:
        config, args = daemon_config.load(argv)
    except ConfigError as e:
        print(f"{e}", file=sys.stderr)
        return 1
    if getattr(args, "version", False):
        print(daemon_config.version_line())
        return 0
    if getattr(args, "validate", False):
        print("configuration OK")
        return 0
    setup_logging(config.log_level)
    setproctitle("dockerd " + " ".join(sys.argv[1:] if argv is None else argv))
    if os.geteuid() != 0:
        log.critical("dockerd needs to be started with root privileges.")
        return 1
    log.info(f"Starting up ketch dockerd {KETCH_VERSION} (API {API_VERSION})")
    raise_open_files_limit()
    try:
        os.makedirs(config.data_root, exist_ok=True)
        pid_lock, root_lock = locks.acquire(
            config.pidfile, Layout(config.data_root, config.exec_root).lock_file
        )
    except (locks.AlreadyRunning, OSError) as e:
        log.critical(str(e))
        return 1
    try:
        asyncio.run(Daemon(config).run())
    except (ConfigError, OSError) as e:
        log.critical(f"failed to start daemon: {e}")
        return 1
    finally:
        root_lock.release(remove=False)
        pid_lock.release(remove=True)
    return 0
