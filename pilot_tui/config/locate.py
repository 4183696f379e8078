"""Find the line and column of every key and value in a (syntactically valid) TOML text.

tomllib gives values without positions, and tomlkit keeps layout but not line numbers, so
messages like ``pilot.toml:12:9: server.home: ...`` need this small structural scanner. It
runs only on text tomllib has already accepted, so it can be lenient: it recognises strings,
arrays, inline tables, comments and headers, and skips over everything else.

Paths are tuples of table keys (str) and array indexes (int), e.g. ``("apps", 1, "name")``.
"""

from __future__ import annotations

from dataclasses import dataclass

Path = tuple[str | int, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class Pos:
    """1-based line and column of a key and of its value."""

    line: int
    col: int
    value_line: int
    value_col: int


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.found: dict[Path, Pos] = {}
        self.aot_counts: dict[Path, int] = {}  # array-of-tables path -> entries seen

    # -- low level ---------------------------------------------------------------
    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def at(self) -> tuple[int, int]:
        return self.line, self.i - self.line_start + 1

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i >= len(self.text):
                return
            if self.text[self.i] == "\n":
                self.line += 1
                self.line_start = self.i + 1
            self.i += 1

    def skip_ws(self, newlines: bool = False) -> None:
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.advance()
            elif ch == "#" and newlines:
                self.skip_comment()
            else:
                return

    def skip_comment(self) -> None:
        while self.i < len(self.text) and self.text[self.i] != "\n":
            self.advance()

    # -- tokens ------------------------------------------------------------------
    def read_string(self) -> str:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.advance(3)
            start = self.i
            while self.i < len(self.text) and not (
                self.peek(3) == quote * 3 and self.text[self.i + 3 : self.i + 4] != quote
            ):
                self.advance(2 if quote == '"' and self.peek() == "\\" else 1)
            body = self.text[start : self.i]
            self.advance(3)
            return body
        self.advance()
        start = self.i
        while self.i < len(self.text) and self.peek() != quote and self.peek() != "\n":
            self.advance(2 if quote == '"' and self.peek() == "\\" else 1)
        body = self.text[start : self.i]
        self.advance()
        return _unescape(body) if quote == '"' else body

    def read_key(self) -> list[tuple[str, int, int]]:
        """A possibly dotted key: [(part, line, col), ...]."""
        parts = []
        while True:
            self.skip_ws()
            line, col = self.at()
            ch = self.peek()
            if ch in "\"'":
                part = self.read_string()
            else:
                start = self.i
                while self.i < len(self.text) and self.text[self.i] in _BARE:
                    self.advance()
                part = self.text[start : self.i]
            parts.append((part, line, col))
            self.skip_ws()
            if self.peek() == ".":
                self.advance()
                continue
            return parts

    def read_value(self, path: Path) -> None:
        """Skip over one value, recording positions inside arrays and inline tables."""
        ch = self.peek()
        if ch in "\"'":
            self.read_string()
        elif ch == "[":
            self.advance()
            index = 0
            while True:
                self.skip_ws(newlines=True)
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                line, col = self.at()
                self.found.setdefault((*path, index), Pos(line, col, line, col))
                self.read_value((*path, index))
                index += 1
                self.skip_ws(newlines=True)
                if self.peek() == ",":
                    self.advance()
        elif ch == "{":
            self.advance()
            while True:
                self.skip_ws()
                if self.peek() in ("}", ""):
                    self.advance()
                    return
                self.read_pair(path)
                self.skip_ws()
                if self.peek() == ",":
                    self.advance()
        else:
            while self.i < len(self.text) and self.peek() not in ",]}\n#":
                self.advance()

    def read_pair(self, table: Path) -> None:
        parts = self.read_key()
        self.skip_ws()
        if self.peek() == "=":
            self.advance()
        self.skip_ws()
        vline, vcol = self.at()
        path = table
        for n, (part, line, col) in enumerate(parts):
            path = (*path, part)
            last = n == len(parts) - 1
            pos = Pos(line, col, vline, vcol) if last else Pos(line, col, line, col)
            self.found.setdefault(path, pos)
        self.read_value(path)

    def read_header(self) -> Path:
        line, col = self.at()
        is_aot = self.peek(2) == "[["
        self.advance(2 if is_aot else 1)
        parts = self.read_key()
        self.advance(2 if is_aot else 1)
        resolved: Path = ()
        for n, (part, pline, pcol) in enumerate(parts):
            resolved = (*resolved, part)
            self.found.setdefault(resolved, Pos(pline, pcol, pline, pcol))
            last = n == len(parts) - 1
            if resolved in self.aot_counts and not (is_aot and last):
                resolved = (*resolved, self.aot_counts[resolved] - 1)
        if is_aot:
            index = self.aot_counts.get(resolved, 0)
            self.aot_counts[resolved] = index + 1
            resolved = (*resolved, index)
            self.found[resolved] = Pos(line, col, line, col)
        return resolved

    def run(self) -> dict[Path, Pos]:
        table: Path = ()
        while self.i < len(self.text):
            self.skip_ws(newlines=True)
            if self.i >= len(self.text):
                break
            if self.peek() == "[":
                table = self.read_header()
            else:
                self.read_pair(table)
            self.skip_ws()
            if self.peek() == "#":
                self.skip_comment()
        return self.found


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return body


def locate(text: str) -> dict[Path, Pos]:
    """Map every key path in ``text`` to where it is written."""
    return _Scanner(text).run()


def nearest(found: dict[Path, Pos], path: Path) -> Pos | None:
    """The position of ``path``, or of its closest written ancestor."""
    while path:
        if path in found:
            return found[path]
        path = path[:-1]
    return None
