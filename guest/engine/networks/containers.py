"""Duck-typed access to the containers area's objects (dicts or attributes), in one place."""

from typing import Any


def attr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    value = getattr(obj, name, default)
    return default if value is None else value


def field_of(section: Any, key: str, default: Any = None) -> Any:
    """A key of a Config/HostConfig section, whether it is a dict or an object."""
    if section is None:
        return default
    if isinstance(section, dict):
        value = section.get(key, default)
    else:
        value = getattr(section, key, default)
    return default if value is None else value


def container_id(container: Any) -> str:
    return str(attr(container, "id") or attr(container, "ID") or attr(container, "Id"))


def container_name(container: Any) -> str:
    return str(attr(container, "name") or attr(container, "Name") or "").lstrip("/")


def config(container: Any) -> Any:
    return attr(container, "config") or attr(container, "Config") or {}


def host_config(container: Any) -> Any:
    return attr(container, "host_config") or attr(container, "HostConfig") or {}


def is_running(container: Any) -> bool:
    state = attr(container, "state") or attr(container, "State")
    if state is None:
        return False
    if isinstance(state, str):
        return state in ("running", "paused", "restarting")
    return bool(field_of(state, "Running", False) or field_of(state, "running", False))


def network_settings(container: Any) -> dict[str, Any]:
    """The container's NetworkSettings dict, created on first use."""
    settings = attr(container, "network_settings")
    if settings is None:
        settings = {}
        if isinstance(container, dict):
            container["network_settings"] = settings
        else:
            container.network_settings = settings
    return settings  # type: ignore[no-any-return]
