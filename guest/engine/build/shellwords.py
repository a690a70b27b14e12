"""Dockerfile variable substitution and word splitting, as Docker's shell lexer does it.

Quotes are removed, the escape character protects the next one, and $var / ${var} expand with
the modifiers Docker knows: ${v:-word} ${v-word} ${v:+word} ${v+word} ${v:?msg} ${v?msg}
and the prefix/suffix removals ${v#pat} ${v##pat} ${v%pat} ${v%%pat}.
"""

import fnmatch
import re
from collections.abc import Mapping

from ketch.guest.engine.errors import InvalidParameter


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str, split_words: bool) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.split_words = split_words
        self.words: list[str] = []
        self.word: list[str] = []
        self.in_word = False

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    def add(self, s: str) -> None:
        self.word.append(s)
        self.in_word = True

    def end_word(self) -> None:
        if self.in_word:
            self.words.append("".join(self.word))
        self.word = []
        self.in_word = False

    def run(self, stop: str = "") -> str:
        """Process until `stop` (consumed) or end of text; returns the processed text."""
        while self.pos < len(self.text):
            ch = self.next()
            if stop and ch == stop:
                return "".join(self.word)
            if ch == self.escape:
                nxt = self.next()
                self.add(nxt if nxt else ch)
            elif ch == "'":
                self.add(self.single_quoted())
            elif ch == '"':
                self.add(self.double_quoted())
            elif ch == "$":
                self.add(self.dollar())
            elif self.split_words and not stop and ch in " \t\r\n":
                self.end_word()
            else:
                self.add(ch)
        if stop:
            raise InvalidParameter(f"failed to process \"{self.text}\": missing '{stop}'")
        return "".join(self.word)

    def single_quoted(self) -> str:
        end = self.text.find("'", self.pos)
        if end < 0:
            raise InvalidParameter(
                f'failed to process "{self.text}": unexpected end of '
                "statement while looking for matching single-quote"
            )
        value = self.text[self.pos : end]
        self.pos = end + 1
        self.in_word = True
        return value

    def double_quoted(self) -> str:
        out: list[str] = []
        self.in_word = True
        while True:
            ch = self.next()
            if not ch:
                raise InvalidParameter(
                    f'failed to process "{self.text}": unexpected end of '
                    "statement while looking for matching double-quote"
                )
            if ch == '"':
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == self.escape and self.peek() in ('"', "$", self.escape):
                out.append(self.next())
            else:
                out.append(ch)

    def name(self) -> str:
        start = self.pos
        if self.peek().isdigit():
            self.pos += 1
            return self.text[start : self.pos]
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def sub_word(self) -> str:
        """The word after a ${name<op> ... } modifier, processed, up to the closing brace."""
        inner = _Lexer(self.text, self.env, self.escape, split_words=False)
        inner.pos = self.pos
        value = inner.run(stop="}")
        self.pos = inner.pos
        return value

    def dollar(self) -> str:
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.env.get(name, "")
        self.pos += 1
        name = self.name()
        if not name:
            raise InvalidParameter(f'failed to process "{self.text}": bad substitution')
        ch = self.next()
        value = self.env.get(name)
        if ch == "}":
            return value or ""
        if ch == ":":
            op = self.next()
            word = self.sub_word()
            if op == "-":
                return value if value else word
            if op == "+":
                return word if value else ""
            if op == "?":
                if not value:
                    raise InvalidParameter(f"{name}: {word or 'is not allowed to be unset'}")
                return value
            raise InvalidParameter(
                f'failed to process "{self.text}": unsupported modifier ({op}) in substitution'
            )
        if ch in "-+?":
            word = self.sub_word()
            if ch == "-":
                return value if value is not None else word
            if ch == "+":
                return word if value is not None else ""
            if value is None:
                raise InvalidParameter(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        if ch in "#%":
            longest = self.peek() == ch
            if longest:
                self.pos += 1
            pattern = self.sub_word()
            return _trim(value or "", pattern, prefix=ch == "#", longest=longest)
        raise InvalidParameter(f"failed to process \"{self.text}\": missing ':' in substitution")


def _trim(value: str, pattern: str, *, prefix: bool, longest: bool) -> str:
    regex = fnmatch.translate(pattern)[4:-3]  # strip (?s: ... )\Z
    candidates = range(len(value), -1, -1) if longest else range(len(value) + 1)
    for n in candidates:
        part = value[:n] if prefix else value[len(value) - n :]
        if re.fullmatch(regex, part, re.S):
            return value[n:] if prefix else value[: len(value) - n]
    return value


def process_word(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables and remove quotes; the result is one word."""
    return _Lexer(text, env, escape, split_words=False).run()


def process_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand variables, remove quotes and split on unquoted whitespace."""
    lexer = _Lexer(text, env, escape, split_words=True)
    lexer.run()
    lexer.end_word()
    return lexer.words


def split_raw_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace keeping quotes and escapes (the key=value parsers' view)."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            word.append(ch)
            if ch == escape and quote == '"' and i + 1 < len(text):
                word.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch == escape and i + 1 < len(text):
            word.extend((ch, text[i + 1]))
            i += 1
        elif ch in "'\"":
            quote = ch
            word.append(ch)
        elif ch.isspace():
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(ch)
        i += 1
    if word:
        words.append("".join(word))
    return words


def env_map(env: list[str]) -> dict[str, str]:
    """["K=V", ...] -> {"K": "V"}; later entries win, as in a process environment."""
    result: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        result[key] = value
    return result
