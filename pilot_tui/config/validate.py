"""Validate a pilot.toml text: syntax, schema, cross-key checks and pasted secrets.

``check_text`` is the one entry point; the CLI, the TUI's settings editor and the writer all
call it, so the same rules and the same messages apply everywhere.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from pilot_tui.config import secrets
from pilot_tui.config.checks import semantic_checks
from pilot_tui.config.locate import Path, Pos, locate, nearest
from pilot_tui.config.problems import Problem, Report
from pilot_tui.config.schema import NAME_PATTERN, PilotConfig
from pilot_tui.config.walk import Walker

# pilot.toml needs three levels at most ([[apps]] > target > a list); parsers recurse per level.
MAX_NESTING = 32
_AT = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$", re.S)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_PAIR = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=\s*(.*)$")
_FRIENDLIER = (
    (
        re.compile(r"Cannot declare \('?(.*?)'?,?\) twice"),
        r"table [\1] is declared twice; "
        "merge the two",
    ),
    (re.compile(r"Cannot overwrite a value"), "this key is already set above; keep one"),
    # (found walking: a string left open said "Illegal character '\n'")
    (
        re.compile(r"Illegal character '\\n'"),
        "a string is not closed on this line (its closing quote is missing)",
    ),
    # (review: a 'literal' or a multi-line string left open was said at the file's end)
    (
        re.compile(r"^(Expected \"'\"|Unterminated string)$"),
        "a string is not closed on this line (its closing quote is missing)",
    ),
    (re.compile(r"Invalid value"), "invalid value"),
    (re.compile(r"Invalid statement"), "invalid statement"),
)


@dataclass
class Checked:
    """The outcome of validating one text: the report and, when valid, typed settings."""

    report: Report
    data: dict[str, Any] | None
    config: PilotConfig | None


def check_text(text: str, file: str = "pilot.toml", base_dir: FsPath | None = None) -> Checked:
    """Validate ``text``; ``file`` names it in messages, ``base_dir`` resolves relative paths."""
    report = Report(file)
    deep = _too_deep(text)
    if deep is not None:
        report.problems.append(deep)
        return Checked(report, None, None)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        report.problems.append(_syntax_problem(text, str(exc)))
        report.problems.extend(_secret_lines(text, None, None))
        report.problems.sort(key=lambda p: (p.line, p.col))
        return Checked(report, None, None)

    walker = Walker(PilotConfig)
    config = walker.table(data, PilotConfig, ())
    problems = list(walker.problems)
    problems.extend(semantic_checks(config, data, base_dir))
    found = locate(text)
    placed = [_place(p, found, data) for p in problems]
    placed.extend(_secret_lines(text, found, data))
    report.problems = sorted(_dedupe(placed), key=lambda p: (p.line, p.col))
    return Checked(report, data, config if report.ok else None)


def check_file(path: FsPath, *, display: str | None = None) -> Checked:
    """Validate the file at ``path`` (it must exist)."""
    text = path.read_text(encoding="utf-8")
    return check_text(text, display or str(path), path.parent)


# -- placing problems in the text ---------------------------------------------------------


def dotted(path: Path, data: dict[str, Any] | None) -> str:
    """A path as people read it: ``apps.api.target.kind``, or ``apps[2]`` without a name."""
    out = ""
    node: Any = data
    for i, part in enumerate(path):
        if isinstance(part, int):
            name = _app_label(node, part) if path[:i] == ("apps",) else None
            out += f".{name}" if name else f"[{part}]"
        else:
            shown = part if _BARE_KEY.match(part) else f'"{part}"'
            out += f".{shown}" if out else shown
        node = _child(node, part)
    return out or "(file)"


def _app_label(apps: object, index: int) -> str | None:
    if not isinstance(apps, list) or index >= len(apps) or not isinstance(apps[index], dict):
        return None
    name = apps[index].get("name")
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        return None
    names = [a.get("name") for a in apps if isinstance(a, dict)]
    return name if names.count(name) == 1 else None


def _child(node: object, part: str | int) -> object:
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and part < len(node) else None
    return node.get(part) if isinstance(node, dict) else None


def _place(problem: Problem, found: dict[Path, Pos], data: dict[str, Any]) -> Problem:
    pos = nearest(found, problem.path)
    if pos is None:
        line, col = 1, 1
    elif problem.at == "key" or problem.path not in found:
        line, col = pos.line, pos.col
    else:
        line, col = pos.value_line, pos.value_col
    return problem.placed(line, col, dotted(problem.path, data))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        marker = (p.line, p.col, p.message)
        if marker not in seen:
            seen.add(marker)
            out.append(p)
    return out


def _syntax_problem(text: str, message: str) -> Problem:
    match = _AT.match(message)
    line, col = (int(match["line"]), int(match["col"])) if match else (1, 1)
    msg = match["msg"] if match else message.removesuffix(" (at end of document)")
    for pattern, replacement in _FRIENDLIER:
        msg = pattern.sub(replacement, msg)
    lines = text.splitlines()
    if msg.startswith("Unclosed"):  # point at the bracket that was never closed
        line, col = _unclosed_opener(text, line, col)
    if msg.startswith("a string is not closed") and not match:  # "(at end of document)"
        line = next((n for n, x in enumerate(lines, 1) if _open_quote(x)), line)
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    indent = len(current) - len(current.lstrip()) + 1
    pair = _PAIR.match(current)
    if "declared twice" in msg or "already set" in msg:
        col = indent  # the header or key itself, not the end of the line
    elif msg.startswith("a string is not closed") and (opened := _open_quote(current)):
        col = opened  # (found walking: the column was the line's end, inside a comment)
    elif pair:
        value = pair[2].split("#", 1)[0].strip()
        if re.fullmatch(r"[A-Za-z][\w.:/@-]*", value) and value not in ("true", "false"):
            msg += f' (strings need quotes: {pair[1].strip()} = "{value}")'
        elif "\\" in value and value.startswith('"') and re.search(r"escape|hex|Unescaped", msg):
            col = current.index(pair[2]) + 1
            msg += (
                ' (a backslash starts an escape in "double quotes": write Windows paths '
                "in 'single quotes' or with forward slashes)"
            )
    key = _context_key(lines, line)
    return Problem((), f"TOML syntax error: {msg}", line=line, col=col, key=key)


def _open_quote(line: str) -> int | None:
    """The column (1-based) of the quote that opens a string left open on ``line``, or
    None: quotes are followed as TOML reads them ("..." takes backslash escapes, '...'
    none; a # outside a string starts a comment)."""
    opened: int | None = None
    quote = ""
    escaped = False
    skip = 0
    for i, ch in enumerate(line):
        if skip:
            skip -= 1
            continue
        triple = line[i : i + 3]
        if not quote and triple in ('"""', "'''"):  # a multi-line string, one unit
            end = line.find(triple, i + 3)
            if end == -1:
                return i + 1  # opened here, closed on a later line if at all
            skip = end + 2 - i
            continue
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote, opened = "", None
        elif ch == "#":
            break
        elif ch in "\"'":
            quote, opened = ch, i + 1
    return opened


def _unclosed_opener(text: str, line: int, col: int) -> tuple[int, int]:
    """Where the innermost bracket still open at (line, col) was opened."""
    lines = text.splitlines(keepends=True)
    end = sum(len(x) for x in lines[: line - 1]) + col - 1
    stack: list[int] = []
    for i, ch in _brackets(text, end):
        if ch in "[{":
            stack.append(i)
        elif stack:
            stack.pop()
    if not stack:
        return line, col
    return _line_col(text, stack[-1])


def _too_deep(text: str) -> Problem | None:
    """An error when arrays or inline tables nest deeper than any pilot.toml needs: parsers
    (tomllib's too) recurse per level and would crash with a RecursionError instead."""
    depth = 0
    for i, ch in _brackets(text, len(text)):
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        if depth > MAX_NESTING:
            line, col = _line_col(text, i)
            return Problem(
                (),
                f"arrays or inline tables are nested more than {MAX_NESTING} "
                "levels deep here; pilot.toml never needs more than a few",
                line=line,
                col=col,
                key=_context_key(text.splitlines(), line),
            )
    return None


def _brackets(text: str, end: int) -> Iterator[tuple[int, str]]:
    """Each bracket or brace before ``end`` that is TOML structure (not in a string or a
    comment), with its index."""
    i, quote = 0, ""
    while i < min(end, len(text)):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
            elif ch == "\n" and len(quote) == 1:  # an unclosed one-line string ends here
                quote = ""
        elif ch == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote) - 1
        elif ch in "[{]}":
            yield i, ch
        i += 1


def _line_col(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _context_key(lines: list[str], line: int) -> str:
    """Best guess at the dotted key on ``line`` from the text alone (for broken files)."""
    table = ""
    for text in lines[: max(line - 1, 0)]:
        header = _HEADER.match(text)
        if header and not text.lstrip().startswith("#"):
            table = header[1].replace(" ", "").replace('"', "")
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    header = _HEADER.match(current)
    if header:
        return header[1].strip()
    if current.lstrip().startswith("["):  # a broken header names its own table
        return current.strip().strip("[]").strip() or "(file)"
    pair = _PAIR.match(current)
    if pair and not current.lstrip().startswith("#"):
        key = pair[1].strip().replace('"', "").replace("'", "")
        return f"{table}.{key}" if table else key
    return table or "(file)"


def _secret_lines(
    text: str, found: dict[Path, Pos] | None, data: dict[str, Any] | None
) -> list[Problem]:
    out, seen = [], set()
    lines = text.splitlines()
    for hit in secrets.scan_text(text):
        comment = lines[hit.line - 1].lstrip().startswith("#")
        key = _key_at_line(found, data, hit.line, comment) if found is not None else None
        if key is None:
            key = _context_key(lines, hit.line)
        if (key, hit.what) in seen:  # one pasted key spans several lines: report it once
            continue
        seen.add((key, hit.what))
        col = hit.col
        if found is not None and not comment:  # point at the value, as other checks do
            starts = [
                pos.value_col
                for pos in found.values()
                if pos.value_line == hit.line and pos.value_col <= hit.col
            ]
            col = max(starts, default=hit.col)
        where = " in a comment" if comment else ""
        out.append(
            Problem(
                (),
                f"this looks like {hit.what}{where}; secrets never go in pilot.toml: {hit.advice}",
                line=hit.line,
                col=col,
                key=key,
            )
        )
    return out


def _key_at_line(
    found: dict[Path, Pos], data: dict[str, Any] | None, line: int, comment: bool
) -> str | None:
    before = [(pos.line, len(path), path) for path, pos in found.items() if pos.line <= line]
    if not before:
        return None
    _, _, path = max(before, key=lambda t: (t[0], t[1]))
    if comment:
        path = path[:2] if path and path[0] == "apps" else path[:1]
    return dotted(path, data)
