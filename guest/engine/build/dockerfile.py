"""The Dockerfile parser: directives, comments, line continuations, heredocs, flags, JSON form.

Parsing only splits the text into instructions; meaning (and variable expansion, which needs
the build state) belongs to the dispatcher. Stages are grouped here: ARGs before the first FROM
are the meta args, each FROM opens a stage.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ketch.guest.engine.build.shellwords import split_raw_words
from ketch.guest.engine.errors import InvalidParameter

DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
HEREDOC_WORD = re.compile(r"^<<(-?)(['\"]?)([A-Za-z0-9_.\-]+)\2$")
HEREDOC_INSTRUCTIONS = ("run", "copy", "add")
MAX_LINE_BYTES = 65535
"""Moby's limit (its line scanner's buffer, 64 KiB less the newline)."""
KNOWN = {
    "from",
    "run",
    "cmd",
    "entrypoint",
    "env",
    "arg",
    "label",
    "expose",
    "workdir",
    "user",
    "volume",
    "copy",
    "add",
    "stopsignal",
    "healthcheck",
    "shell",
    "onbuild",
    "maintainer",
}


@dataclass
class Heredoc:
    name: str
    content: str
    expand: bool
    """Unquoted terminator: variables in the content are expanded (for COPY/ADD)."""


@dataclass
class Instruction:
    keyword: str
    """Lower-case instruction name: "run", "copy", ..."""
    args: str
    """The text after the keyword and its --flags, continuations joined."""
    original: str
    """The instruction as Docker prints it in "Step N/M : ..." lines."""
    line: int
    flags: dict[str, str] = field(default_factory=dict)
    heredocs: list[Heredoc] = field(default_factory=list)

    def json_args(self) -> list[str] | None:
        """The exec (JSON array) form, or None when the args are in shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None
        return value


@dataclass
class Stage:
    name: str
    """Lower-cased `AS` name, or "" for an unnamed stage."""
    index: int
    source: Instruction
    """The FROM instruction."""
    commands: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    escape: str
    meta_args: list[Instruction]
    stages: list[Stage]

    def step_count(self) -> int:
        return len(self.meta_args) + sum(1 + len(s.commands) for s in self.stages)


def parse(text: str, name: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile; raise InvalidParameter with Docker's wording on errors."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    for line in lines:
        if len(line) > MAX_LINE_BYTES // 4 and len(line.encode()) > MAX_LINE_BYTES:
            raise InvalidParameter(
                f"failed to parse {name}: dockerfile line greater than max "
                f"allowed size of {MAX_LINE_BYTES}"
            )
    escape, first = _directives(lines)
    instructions = list(_instructions(lines, first, escape))
    if not instructions:
        raise InvalidParameter("the Dockerfile (Dockerfile) cannot be empty")
    return _stages(instructions, escape)


def parse_instruction(text: str, escape: str = "\\", line: int = 0) -> Instruction:
    """One instruction from its text (ONBUILD triggers)."""
    items = list(_instructions(text.split("\n"), 0, escape))
    if len(items) != 1:
        raise InvalidParameter(f"invalid instruction: {text}")
    item = items[0]
    item.line = line
    return item


def parse_changes(changes: list[str]) -> tuple[str, list[Instruction]]:
    """(escape, instructions) of `docker commit/import --change` lines, parsed together as a
    Dockerfile without stages; which instructions are allowed is the caller's to check."""
    lines = "\n".join(changes).split("\n")
    escape, first = _directives(lines)
    return escape, list(_instructions(lines, first, escape, any_keyword=True))


def _directives(lines: list[str]) -> tuple[str, int]:
    escape = "\\"
    seen: set[str] = set()
    for number, line in enumerate(lines):
        match = DIRECTIVE.match(line.strip())
        if not match:
            return escape, number
        name, value = match.group(1).lower(), match.group(2)
        if name in seen:
            raise InvalidParameter(f"only one {name} parser directive can be used")
        seen.add(name)
        if name == "escape":
            if value not in ("\\", "`"):
                raise InvalidParameter(f"invalid escape token '{value}' does not match ` or \\")
            escape = value
    return escape, len(lines)


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _continues(line: str, escape: str) -> tuple[str, bool]:
    stripped = line.rstrip()
    if stripped.endswith(escape):
        return stripped[:-1], True
    return line, False


def _instructions(
    lines: list[str], start: int, escape: str, any_keyword: bool = False
) -> Iterator[Instruction]:
    i = start
    while i < len(lines):
        raw = lines[i]
        if not raw.strip() or _is_comment(raw):
            i += 1
            continue
        line_number = i + 1
        text, more = _continues(raw.lstrip(), escape)
        i += 1
        while more and i < len(lines):
            raw = lines[i]
            i += 1
            if _is_comment(raw) or not raw.strip():
                continue
            part, more = _continues(raw, escape)
            text += part
        keyword, _, rest = text.strip().partition(" ")
        if "\t" in keyword:
            keyword, _, tail = keyword.partition("\t")
            rest = tail + " " + rest
        keyword_lower = keyword.lower()
        if keyword_lower not in KNOWN and not any_keyword:
            raise InvalidParameter(
                f"dockerfile parse error on line {line_number}: unknown instruction: {keyword}"
            )
        flags, args = _flags(rest.strip(), escape)
        instruction = Instruction(
            keyword_lower, args, f"{keyword} {rest.strip()}".strip(), line_number, flags
        )
        if keyword_lower in HEREDOC_INSTRUCTIONS:
            i = _read_heredocs(instruction, lines, i, escape)
        yield instruction


def _flags(text: str, escape: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = text
    while rest.startswith("--"):
        words = split_raw_words(rest, escape)
        word = words[0] if words else ""
        rest = rest[len(word) :].lstrip() if rest.startswith(word) else rest[2:].lstrip()
        if word == "--":
            break
        name, has_value, value = word[2:].partition("=")
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1:
            value = value[1:-1]
        flags[name.lower()] = value if has_value else "true"
    return flags, rest


def _read_heredocs(instruction: Instruction, lines: list[str], i: int, escape: str) -> int:
    for word in split_raw_words(instruction.args, escape):
        match = HEREDOC_WORD.match(word)
        if not match:
            continue
        strip_tabs, quote, name = match.group(1) == "-", match.group(2), match.group(3)
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise InvalidParameter(
                    f"dockerfile parse error on line {instruction.line}: "
                    f"unterminated heredoc {name}"
                )
            line = lines[i]
            i += 1
            if strip_tabs:
                line = line.lstrip("\t")
            if line == name:
                break
            body.append(line + "\n")
        instruction.heredocs.append(Heredoc(name, "".join(body), expand=not quote))
    return i


def _stages(instructions: list[Instruction], escape: str) -> Dockerfile:
    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    for item in instructions:
        if item.keyword == "from":
            words = split_raw_words(item.args, escape)
            name = ""
            if len(words) == 3 and words[1].lower() == "as":
                name = words[2].lower()
                if not re.fullmatch(r"[a-z][a-z0-9\-_.]*", name):
                    raise InvalidParameter(
                        f'invalid name for build stage: "{words[2]}", '
                        "name can't start with a number or contain "
                        "symbols"
                    )
            elif len(words) != 1:
                raise InvalidParameter("FROM requires either one or three arguments")
            stages.append(Stage(name, len(stages), item))
        elif not stages:
            if item.keyword != "arg":
                raise InvalidParameter("no build stage in current context")
            meta_args.append(item)
        else:
            stages[-1].commands.append(item)
    if not stages:
        raise InvalidParameter("no build stage in current context")
    return Dockerfile(escape, meta_args, stages)
