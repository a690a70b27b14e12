""".dockerignore: Docker's pattern rules (Go filepath.Match plus `**`, `!` exceptions, the last
matching pattern wins, a path is excluded when it or one of its parent folders matches)."""

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def read_patterns(text: str) -> list[Pattern]:
    """The patterns of a .dockerignore file (comments and blank lines skipped, paths cleaned)."""
    patterns: list[Pattern] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if not line:
            continue
        cleaned = posixpath.normpath(line)
        if len(cleaned) > 1 and cleaned.startswith("/"):
            cleaned = cleaned.lstrip("/") or "/"
        patterns.append(Pattern(cleaned, exclusion, compile_pattern(cleaned)))
    return patterns


def compile_pattern(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out.append(".*" if i + 1 >= len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^"):
                    body = "!" + body[1:]
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    try:
        return re.compile("".join(out), re.S)
    except re.error:
        return re.compile(re.escape(pattern))


def is_excluded(path: str, patterns: list[Pattern]) -> bool:
    """Docker's MatchesOrParentMatches for one context-relative path."""
    path = posixpath.normpath(path).lstrip("/")
    parent = posixpath.dirname(path)
    parents = parent.split("/") if parent else []
    matched = False
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue
        match = bool(pattern.regex.match(path))
        if not match:
            for n in range(1, len(parents) + 1):
                if pattern.regex.match("/".join(parents[:n])):
                    match = True
                    break
        if match:
            matched = not pattern.exclusion
    return matched
