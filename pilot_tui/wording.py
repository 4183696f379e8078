"""Words for counts, so no line says "1 problem(s)" or "1 tables"."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``noun`` for one of it, else its plural (``many``, or ``noun`` + "s")."""
    return noun if count == 1 else (many or f"{noun}s")


def counted(count: int, noun: str, many: str | None = None) -> str:
    """ "1 problem", "2 problems", "0 problems"."""
    return f"{count} {plural(count, noun, many)}"
