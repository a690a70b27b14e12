"""One module per subcommand: NAME, HELP, add_arguments(parser), run(args) -> exit code."""

from ketch.host.commands import (
    autostart,
    dashboard,
    delete,
    desktop,
    doctor,
    image,
    list_instances,
    logs,
    selftest,
    ssh,
    start,
    status,
    stop,
    version,
)

COMMANDS = [
    start,
    stop,
    status,
    ssh,
    logs,
    list_instances,
    delete,
    doctor,
    image,
    selftest,
    autostart,
    dashboard,
    desktop,
    version,
]
