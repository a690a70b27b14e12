"""ketch dashboard: the desktop UI in the default browser."""

import argparse
import sys
import webbrowser

NAME, HELP = "dashboard", "open the dashboard (containers, images, logs, ...) in your browser"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-browser", action="store_true", help="only print the URL (to open it yourself)"
    )


def run(args: argparse.Namespace) -> int:
    # aiohttp's server and jinja2: imported by this command only, not by every `ketch` call
    from ketch.host.desktop.engine import resolve_target
    from ketch.host.desktop.server import DesktopServer

    server = DesktopServer(resolve_target(args.name))
    print(f"ketch: dashboard at {server.url}", flush=True)
    print("ketch: press Ctrl-C to stop it", file=sys.stderr, flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    server.run()
    return 0
