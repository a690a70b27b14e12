"""Instructions that only edit the image config (ENV, LABEL, CMD, ...), as the classic builder
applies them. Each returns the history comment ("CMD [\"sh\"]") that also keys the cache."""

import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from ketch.guest.engine.build.dockerfile import Instruction
from ketch.guest.engine.build.shellwords import (
    env_map,
    process_word,
    process_words,
    split_raw_words,
)
from ketch.guest.engine.errors import InvalidParameter

DEFAULT_SHELL = ["/bin/sh", "-c"]
PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)
SIGNALS = {
    "ABRT": 6,
    "ALRM": 14,
    "BUS": 7,
    "CHLD": 17,
    "CONT": 18,
    "FPE": 8,
    "HUP": 1,
    "ILL": 4,
    "INT": 2,
    "IO": 29,
    "IOT": 6,
    "KILL": 9,
    "PIPE": 13,
    "POLL": 29,
    "PROF": 27,
    "PWR": 30,
    "QUIT": 3,
    "SEGV": 11,
    "STKFLT": 16,
    "STOP": 19,
    "SYS": 31,
    "TERM": 15,
    "TRAP": 5,
    "TSTP": 20,
    "TTIN": 21,
    "TTOU": 22,
    "URG": 23,
    "USR1": 10,
    "USR2": 12,
    "VTALRM": 26,
    "WINCH": 28,
    "XCPU": 24,
    "XFSZ": 25,
}
DURATION_UNITS = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


@dataclass
class StageState:
    """What one stage's dispatch has built so far."""

    config: dict[str, Any]
    """The image's runtime config (Env, Cmd, Entrypoint, WorkingDir, ...)."""
    escape: str = "\\"
    build_args: dict[str, str] = field(default_factory=dict)
    """Values given with --build-arg."""
    args: dict[str, str | None] = field(default_factory=dict)
    """ARGs declared in this stage with their value (None: declared without a value)."""
    cmd_set: bool = False
    author: str = ""
    used_args: set[str] = field(default_factory=set)

    def env(self) -> dict[str, str]:
        """The variables instructions are expanded with: ARGs, then ENV overriding them."""
        values = {k: v for k, v in self.args.items() if v is not None}
        values.update(env_map(self.config.get("Env") or []))
        return values

    def expand(self, text: str) -> str:
        return process_word(text, self.env(), self.escape)

    def expand_words(self, text: str) -> list[str]:
        return process_words(text, self.env(), self.escape)

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def declared_args(self) -> dict[str, str]:
        """The stage's ARGs with a value, not overridden by ENV: a RUN's history and cache."""
        env_keys = set(env_map(self.config.get("Env") or []))
        return {
            name: value
            for name, value in self.args.items()
            if value is not None and name not in env_keys
        }

    def run_args(self) -> dict[str, str]:
        """What a RUN sees as environment: the declared ARGs plus the predefined proxy args
        (those stay out of history and the cache key, as on Moby)."""
        env_keys = set(env_map(self.config.get("Env") or []))
        result = self.declared_args()
        for name in PROXY_ARGS:
            if name in self.build_args and name not in self.args and name not in env_keys:
                result[name] = self.build_args[name]
        return result


def command_form(inst: Instruction, state: StageState) -> tuple[list[str], bool]:
    """(argv, is_shell_form) for RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD."""
    exec_form = inst.json_args()
    if exec_form is not None:
        return exec_form, False
    return [*state.shell(), inst.args], True


def key_values(inst: Instruction, state: StageState, what: str) -> list[tuple[str, str]]:
    """ENV / LABEL pairs: `name=value ...` or the legacy `name value words`."""
    words = split_raw_words(inst.args, state.escape)
    if not words:
        raise InvalidParameter(f"{what} requires at least one argument")
    if "=" not in words[0]:
        if len(words) < 2:
            raise InvalidParameter(f"{what} must have two arguments")
        name = words[0]
        value = inst.args.strip()[len(name) :].strip()
        return [(state.expand(name), state.expand(value))]
    pairs = []
    for word in words:
        if "=" not in word:
            raise InvalidParameter(
                f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value'
            )
        name, _, value = word.partition("=")
        name = state.expand(name)
        if not name:
            raise InvalidParameter(f"{what} names can not be blank")
        pairs.append((name, state.expand(value)))
    return pairs


def set_env(config: dict[str, Any], name: str, value: str) -> None:
    env = [e for e in (config.get("Env") or []) if e.partition("=")[0] != name]
    config["Env"] = [*env, f"{name}={value}"]


def parse_duration(text: str, flag: str) -> int:
    if text in ("", "0"):
        return 0
    parts = re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidParameter(f'time: invalid duration "{text}"')
    total = int(sum(float(n) * DURATION_UNITS[u] for n, u in parts))
    if total < 0:
        raise InvalidParameter(f'Interval "{flag}" cannot be less than 0s')
    return total


def parse_signal(text: str) -> str:
    name = text.upper().removeprefix("SIG")
    if text.isdigit() or name in SIGNALS or re.fullmatch(r"RTM(IN|AX)([+-]\d+)?", name):
        return text
    raise InvalidParameter(f"Invalid signal: {text}")


def go_list(values: list[str]) -> str:
    return "[" + " ".join(values) + "]"


def check_flags(inst: Instruction, allowed: tuple[str, ...]) -> None:
    for name in inst.flags:
        if name not in allowed:
            raise InvalidParameter(f"unknown flag: {name}")


def apply_config_instruction(inst: Instruction, state: StageState) -> str:
    """Apply one config-only instruction; returns its history comment."""
    check_flags(
        inst,
        ("interval", "timeout", "start-period", "start-interval", "retries")
        if inst.keyword == "healthcheck"
        else (),
    )
    config = state.config
    keyword = inst.keyword
    if keyword == "env":
        pairs = key_values(inst, state, "ENV")
        for name, value in pairs:
            set_env(config, name, value)
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if keyword == "label":
        pairs = key_values(inst, state, "LABEL")
        labels = dict(config.get("Labels") or {})
        labels.update(pairs)
        config["Labels"] = labels
        return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if keyword == "maintainer":
        state.author = inst.args.strip()
        return "MAINTAINER " + inst.args.strip()
    if keyword == "expose":
        ports = expose_ports(state.expand_words(inst.args))
        exposed = dict(config.get("ExposedPorts") or {})
        exposed.update({p: {} for p in ports})
        config["ExposedPorts"] = exposed
        return "EXPOSE " + " ".join(ports)
    if keyword == "workdir":
        path = state.expand(inst.args.strip())
        if not path:
            raise InvalidParameter("WORKDIR requires exactly one argument")
        config["WorkingDir"] = posixpath.normpath(
            posixpath.join(config.get("WorkingDir") or "/", path)
        )
        return "WORKDIR " + config["WorkingDir"]
    if keyword == "user":
        user = state.expand(inst.args.strip())
        if not user:
            raise InvalidParameter("USER requires exactly one argument")
        config["User"] = user
        return "USER " + user
    if keyword == "volume":
        exec_form = inst.json_args()
        paths = (
            [state.expand(p) for p in exec_form]
            if exec_form is not None
            else state.expand_words(inst.args)
        )
        if not paths:
            raise InvalidParameter("VOLUME requires at least one argument")
        volumes = dict(config.get("Volumes") or {})
        for path in paths:
            if not path.strip():
                raise InvalidParameter("VOLUME specified can not be an empty string")
            volumes[path.strip()] = {}
        config["Volumes"] = volumes
        return "VOLUME " + go_list(paths)
    if keyword == "cmd":
        argv, _ = command_form(inst, state)
        config["Cmd"] = argv
        state.cmd_set = True
        return "CMD " + json.dumps(argv)
    if keyword == "entrypoint":
        argv, shell_form = command_form(inst, state)
        if shell_form and not inst.args.strip():
            argv = []
        config["Entrypoint"] = argv or None
        if not state.cmd_set:
            config["Cmd"] = None
        return "ENTRYPOINT " + json.dumps(argv)
    if keyword == "stopsignal":
        config["StopSignal"] = parse_signal(state.expand(inst.args.strip()))
        return "STOPSIGNAL " + config["StopSignal"]
    if keyword == "shell":
        argv = inst.json_args()
        if argv is None:
            raise InvalidParameter("SHELL requires the arguments to be in JSON form")
        if not argv:
            raise InvalidParameter("SHELL requires at least one argument")
        config["Shell"] = argv
        return "SHELL " + go_list(argv)
    if keyword == "healthcheck":
        config["Healthcheck"] = healthcheck(inst, state)
        return "HEALTHCHECK " + json.dumps(config["Healthcheck"])
    if keyword == "onbuild":
        trigger = inst.args.strip()
        first = trigger.split(None, 1)[0].upper() if trigger else ""
        if first == "ONBUILD":
            raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if first in ("FROM", "MAINTAINER"):
            raise InvalidParameter(f"{first} isn't allowed as an ONBUILD trigger")
        config["OnBuild"] = [*(config.get("OnBuild") or []), trigger]
        return "ONBUILD " + trigger
    if keyword == "arg":
        return declare_args(inst, state)
    raise InvalidParameter(f"unknown instruction: {keyword.upper()}")


def expose_ports(words: list[str]) -> list[str]:
    ports: list[str] = []
    for word in words:
        port, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidParameter(f"invalid proto: {proto}")
        start, _, end = port.partition("-")
        if not start.isdigit() or (end and not end.isdigit()):
            raise InvalidParameter(f"invalid containerPort: {port}")
        for number in range(int(start), int(end or start) + 1):
            ports.append(f"{number}/{proto}")
    return ports


def healthcheck(inst: Instruction, state: StageState) -> dict[str, Any]:
    words = inst.args.split(None, 1)
    kind = words[0].upper() if words else ""
    if kind == "NONE":
        if len(words) > 1 or inst.flags:
            raise InvalidParameter("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise InvalidParameter(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    rest = words[1] if len(words) > 1 else ""
    exec_form = Instruction("cmd", rest, "", inst.line).json_args()
    test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest]
    check: dict[str, Any] = {"Test": test}
    for flag, key in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ):
        value = parse_duration(inst.flags.get(flag, ""), flag)
        if value:
            check[key] = value
    retries = inst.flags.get("retries", "")
    if retries:
        if not retries.isdigit() or int(retries) < 0:
            raise InvalidParameter("--retries cannot be negative")
        check["Retries"] = int(retries)
    return check


def declare_args(
    inst: Instruction, state: StageState, meta: dict[str, str | None] | None = None
) -> str:
    """ARG name[=default] ...: the value is the build-arg if given, else the default (or the
    meta ARG's value when redeclared inside a stage without one)."""
    words = split_raw_words(inst.args, state.escape)
    if not words:
        raise InvalidParameter("ARG requires at least one argument")
    declared = []
    for word in words:
        name, has_default, default = word.partition("=")
        if not name:
            raise InvalidParameter(f"ARG names can not be blank: {word}")
        default_value = state.expand(default) if has_default else None
        value = default_value
        if value is None and meta is not None:
            value = meta.get(name)
        if name in state.build_args:
            value = state.build_args[name]
        state.args[name] = value
        state.used_args.add(name)
        declared.append(f"{name}={default_value}" if has_default else name)
    return "ARG " + " ".join(declared)
