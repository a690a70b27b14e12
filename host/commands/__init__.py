"""One module per subcommand: NAME, HELP, add_arguments(parser), run(args) -> exit code."""

from ketch.host.commands import (
    dashboard,
    delete,
    desktop,
    doctor,
    list_instances,
    logs,
    ssh,
    start,
    status,
    stop,
    version,
)

COMMANDS = [start, stop, status, ssh, logs, list_instances, delete, doctor, dashboard, desktop,
            version]
