"""Signal names as Docker accepts them ("KILL", "SIGKILL", "9", "SIGRTMIN+3")."""

import signal

from ketch.guest.engine.errors import InvalidParameter


def parse_signal(text: str | int | None, default: int = signal.SIGKILL) -> int:
    if text is None or text == "":
        return default
    if isinstance(text, int):
        return text
    value = text.strip()
    if value.isdigit():
        number = int(value)
        if 0 < number <= signal.SIGRTMAX:
            return number
        raise InvalidParameter(f"Invalid signal: {text}")
    name = value.upper().removeprefix("SIG")
    if name.startswith("RTMIN+") or name.startswith("RTMAX-"):
        base, _, offset = name.partition("+" if "+" in name else "-")
        if offset.isdigit():
            return (
                signal.SIGRTMIN + int(offset) if base == "RTMIN" else signal.SIGRTMAX - int(offset)
            )
    try:
        return int(signal.Signals["SIG" + name])
    except KeyError:
        raise InvalidParameter(f"Invalid signal: {text}") from None
