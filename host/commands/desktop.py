"""ketch desktop: the dashboard in its own window, with a tray icon."""

import argparse

NAME, HELP = "desktop", "open the desktop app: a window with the dashboard and a tray icon"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-tray", action="store_true", help="no tray icon")
    parser.add_argument(
        "--browser", action="store_true", help="use the default browser instead of a window"
    )


def run(args: argparse.Namespace) -> int:
    from ketch.host.desktop.app import run_desktop  # pywebview/pystray: only for this command

    return run_desktop(args.name, tray=not args.no_tray, browser=args.browser)
