"""Read and change pilot.toml without losing a byte of what the user wrote.

Reading uses tomllib (through :mod:`pilot_tui.config.validate`); writing uses tomlkit, key by
key, so comments, blank lines, key order, alignment and quoting style stay as they were and
only the changed value moves. Every change is validated before it is written, and written
atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from pilot_tui.config.keys import KeyError_, lookup, parse_key, resolve_apps
from pilot_tui.config.locate import Path
from pilot_tui.config.problems import Report
from pilot_tui.config.validate import Checked, check_text
from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.fsutil import atomic_write

if TYPE_CHECKING:
    from tomlkit.items import InlineTable


class ConfigRefused(PilotError):
    """A change was refused because the result would be invalid; the file is untouched."""

    exit_code = EXIT_INVALID
    title = "pilot.toml not changed"

    def __init__(self, report: Report) -> None:
        super().__init__("; ".join(report.lines()))
        self.report = report


class ConfigChanged(PilotError):
    """The file changed on disk since it was read; writing now would lose those edits."""

    title = "pilot.toml changed on disk"


@dataclass
class ProjectFile:
    """One pilot.toml: its text as read, and where it lives."""

    path: FsPath
    text: str

    @classmethod
    def load(cls, path: FsPath) -> ProjectFile:
        # Decoded from the bytes, not read_text: its newline translation would turn CRLF
        # into LF, and the text would then never match the file on disk (see save).
        return cls(path, path.read_bytes().decode("utf-8"))

    @property
    def display(self) -> str:
        """The path as shown in messages (relative to the working directory when inside it)."""
        try:
            return str(self.path.resolve().relative_to(FsPath.cwd()))
        except ValueError:
            return str(self.path)

    def check(self, text: str | None = None) -> Checked:
        return check_text(self.text if text is None else text, self.display, self.path.parent)

    # -- reading -------------------------------------------------------------------
    def effective(self) -> dict[str, Any]:
        """The whole configuration with defaults filled in (requires a valid file)."""
        checked = self.check()
        if checked.config is None:
            raise ConfigRefused(checked.report)
        return _plain(dataclasses.asdict(checked.config))

    def get(self, key: str) -> Any:
        """The effective value of a dotted key (defaults included)."""
        checked = self.check()
        if checked.config is None:
            raise ConfigRefused(checked.report)
        path = resolve_apps(parse_key(key), checked.data or {})
        value = lookup(dataclasses.asdict(checked.config), path)  # unset keys too
        if value is None:  # a key of the schema with no value: its description says why
            raise KeyUnset(f"{key}: not set; {_doc(checked.config, path)}")
        return _plain(value)

    # -- writing -------------------------------------------------------------------
    def with_value(self, key: str, value: object) -> str:
        """The file text with ``key`` set to ``value``; nothing else changes."""
        return set_in_text(self.text, key, value)

    def without_key(self, key: str) -> str:
        """The file text with ``key`` removed."""
        try:
            return remove_from_text(self.text, key)
        except KeyError_ as exc:
            raise KeyError_(f"{exc} in {self.display}") from None

    def save(self, new_text: str) -> Checked:
        """Validate ``new_text`` and write it atomically, or raise and leave the file alone."""
        checked = self.check(new_text)
        if not checked.report.ok:
            raise ConfigRefused(checked.report)
        on_disk = self.path.read_bytes() if self.path.exists() else b""
        if _digest(on_disk) != _digest(self.text.encode("utf-8")):
            raise ConfigChanged(
                f"{self.display} changed on disk after it was read; nothing was written "
                "(run the command again to apply your change to the new contents)"
            )
        new_text = with_newlines(new_text, newline_of(self.text))
        # Through a symlink, replace the link's target (the temp file made in the target's
        # directory), so the link stays a link instead of becoming a copy.
        atomic_write(self.path.resolve(), new_text)
        self.text = new_text
        return checked


def newline_of(text: str) -> str:
    """The file's line ending, as its first line has it (LF for a one-line file)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def with_newlines(text: str, newline: str) -> str:
    """``text`` with every line ending made ``newline`` (tomlkit writes LF for what it adds)."""
    lf = text.replace("\r\n", "\n")
    return lf if newline == "\n" else lf.replace("\n", newline)


def set_in_text(text: str, key: str, value: object, *, starter: bool = False) -> str:
    """``text`` with ``key`` set to ``value``; comments, order and layout are kept.

    ``starter``: the text is laid out like Pilot's starter file (`init`): a commented-out
    example of the key in its table (``# profile = "default"   # why``) is filled in where
    it stands instead of a new line being added, and a changed value's inline comment keeps
    the starter's column (a hand-written file keeps the space before it instead)."""
    import tomlkit

    if starter:
        text = _uncomment_example(text, tuple(parse_key(key)))
    doc = tomlkit.parse(text)
    path = resolve_apps(parse_key(key), doc.unwrap())
    parent = _container(doc, path[:-1], create=True)
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(parent, list) or last > len(parent):
            raise KeyError_(f"{key}: there is no item {last} to set")
        if last == len(parent):
            parent.append(value)
        else:
            parent[last] = _styled(parent[last], value)
    else:
        old = parent.get(last) if hasattr(parent, "get") else None
        padded = old is None and _padded(parent)
        parent[last] = (
            _own_line(_styled(old, value), parent) if old is None else _styled(old, value)
        )
        if padded:
            _pad(parent)
        if starter:
            _align_comment(parent, last)
    new_text = doc.as_string()
    _check_edit(text, new_text, key, path, value)
    return new_text


def _uncomment_example(text: str, path: Path) -> str:
    """``text`` with the line ``# KEY = example`` of table TABLE uncommented, for a key
    ``TABLE.KEY`` that is not set yet; otherwise ``text`` unchanged."""
    import re
    import tomllib

    if len(path) != 2 or not all(isinstance(p, str) for p in path):
        return text
    table, key = str(path[0]), str(path[1])
    if key in tomllib.loads(text).get(table, {}):
        return text
    lines = text.splitlines(keepends=True)
    header = re.compile(r"\s*\[\s*" + re.escape(table) + r"\s*\]\s*(#.*)?$")
    example = re.compile(r"#\s?(" + re.escape(key) + r"\s*=.*)$", re.DOTALL)
    inside = False
    for n, line in enumerate(lines):
        if line.lstrip().startswith("["):
            inside = bool(header.match(line.rstrip("\r\n")))
            continue
        found = example.match(line) if inside else None
        if found:
            try:
                tomllib.loads(found.group(1))
            except tomllib.TOMLDecodeError:
                return text
            lines[n] = found.group(1)
            return "".join(lines)
    return text


def _align_comment(table: object, key: str) -> None:
    """Start the inline comment of ``key`` in the starter's comment column (one space after
    a longer value), as `init` writes it."""
    from tomlkit.items import Table

    from pilot_tui.config.starter import COMMENT_COLUMN

    if not isinstance(table, Table):
        return
    for name, item in table.value.body:
        if (
            name is not None
            and name.key == key
            and getattr(item, "trivia", None) is not None
            and item.trivia.comment
        ):
            code = (
                len(item.trivia.indent)
                + len(name.as_string())
                + len(name.sep)
                + len(item.as_string())
            )
            item.trivia.comment_ws = " " * max(1, COMMENT_COLUMN - code)


def _padded(table: object) -> bool:
    """Whether ``table`` is an inline table written with a space before its ``}``."""
    from tomlkit.items import InlineTable, Whitespace

    if not isinstance(table, InlineTable) or not table.value.body:
        return False
    key, last = table.value.body[-1]
    return key is None and isinstance(last, Whitespace) and last.s == " "


def _pad(table: InlineTable) -> None:
    """Put the space back before ``}``: tomlkit adds a key after it (`{ a = 1, b = 2}`)."""
    from tomlkit.items import Whitespace

    table.append(None, Whitespace(" "))


def remove_from_text(text: str, key: str) -> str:
    """``text`` without ``key``."""
    import tomlkit

    doc = tomlkit.parse(text)
    path = resolve_apps(parse_key(key), doc.unwrap())
    parent = _container(doc, path[:-1], create=False)
    try:
        del parent[path[-1]]
    except (KeyError, IndexError):
        raise KeyError_(f"{key}: not set") from None
    new_text = doc.as_string()
    _check_edit(text, new_text, key, path, _REMOVED)
    return new_text


_REMOVED = object()


def _check_edit(old_text: str, new_text: str, key: str, path: Path, value: object) -> None:
    """Refuse an edit that changed more than ``key``: the data must differ only there, and
    every comment line must survive as its own line. A guard against layout surprises in the
    TOML writer; the user's file is never written when it trips."""
    import copy
    import tomllib

    expected = copy.deepcopy(tomllib.loads(old_text))
    node: Any = expected
    for part in path[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    plain = value.unwrap() if hasattr(value, "unwrap") else value
    if value is _REMOVED:
        del node[path[-1]]
    elif isinstance(path[-1], int) and path[-1] == len(node):
        node.append(plain)
    else:
        node[path[-1]] = plain
    try:
        ok = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    new_lines = {line.strip() for line in new_text.splitlines()}
    comments = [line.strip() for line in old_text.splitlines() if line.strip().startswith("#")]
    if not ok or any(c not in new_lines for c in comments):
        raise KeyError_(
            f"{key}: Pilot could not make this change without disturbing other "
            "lines of the file; nothing was written. Please edit it by hand."
        )


def parse_value(text: str) -> Any:
    """A value typed on the command line, read as TOML (``'"eu-west-1"'``, ``8080``,
    ``["a", "b"]``, ``{ kind = "static" }``). Text that is not TOML is taken as a string, so
    ``eu-west-1`` works unquoted."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        return tomlkit.parse(f"v = {text}")["v"]
    except TOMLKitError:
        if "\n" in text:
            raise KeyError_("a value on the command line cannot span lines") from None
        if text.startswith('"'):  # (found walking: '"eu-west-1' was set as a bare string)
            inner = text.strip('"')
            raise KeyError_(
                f"{text} starts as a TOML string and does not end as one: quote it whole "
                f"('\"{inner}\"') or not at all ({inner})"
            ) from None
        return text  # ([, {, ' start text too: a log format, a shell test, a name)


def _container(doc: Any, path: Path, *, create: bool) -> Any:
    import tomlkit

    node = doc
    for n, part in enumerate(path):
        shown = ".".join(str(p) for p in path[: n + 1])
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise KeyError_(f"{shown}: there is no item {part} here")
            node = node[part]
            continue
        if part not in node:
            if not create:
                raise KeyError_(f"{shown}: not set")
            # A missing top-level table becomes a [table]; anything deeper an inline table.
            node[part] = tomlkit.table() if node is doc else tomlkit.inline_table()
        node = node[part]
        if not isinstance(node, dict | list):
            raise KeyError_(f"{shown} is a value, not a table")
    return node


def _own_line(value: object, parent: object) -> object:
    """A new key of a table (not an inline one) ends its own line: a value parse_value
    read ends the text it came from, so it had none, and tomlkit then wrote it over the
    blank line before the next table, or left the file without its last newline (found
    walking; the next edit of the file was refused)."""
    from tomlkit.items import InlineTable, Item

    if isinstance(value, Item) and not isinstance(parent, InlineTable) and not value.trivia.trail:
        value.trivia.trail = "\n"
    return value


def _styled(old: object, value: object) -> object:
    """Keep a string's quoting style (literal 'x' stays literal) when replacing it."""
    import tomlkit
    from tomlkit.items import String, StringType

    if isinstance(value, str) and not isinstance(value, String) and isinstance(old, String):
        literal = old.type in (StringType.SLL, StringType.MLL)
        if literal and "'" not in value and "\n" not in value:
            return tomlkit.string(value, literal=True)
    return value


class KeyUnset(PilotError):
    """A key the schema has, with no value in the file and none by default (its own
    default applies, as its description says): `config get` exits 1 on it, as `git config`
    does (found walking: `config get server.size` said "no such key")."""

    title = "Not set"


def _doc(config: object, path: Path) -> str:
    """The description of the setting at ``path`` in ``config`` (its last table's field)."""
    node: object = config
    doc = ""
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) else None
            continue
        if not dataclasses.is_dataclass(node) or isinstance(node, type):
            break
        found = {f.name: f for f in dataclasses.fields(node)}.get(str(part))
        if found is None:
            break
        doc = str(found.metadata.get("doc", ""))
        node = getattr(node, found.name)
    return doc


def _plain(value: Any) -> Any:
    """Drop unset (None) keys: TOML has no null, and ``show`` prints what applies."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
