"""Words for counts and sizes, so no line says "1 problem(s)", "1 tables" or "0.0 kB"."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``noun`` for one of it, else its plural (``many``, or ``noun`` + "s")."""
    return noun if count == 1 else (many or f"{noun}s")


def counted(count: int, noun: str, many: str | None = None) -> str:
    """ "1 problem", "2 problems", "0 problems"."""
    return f"{count} {plural(count, noun, many)}"


def size(count: int) -> str:
    """A byte count as people read it: "12 bytes", "4.5 kB", "2.3 MB" (never "0.0 kB")."""
    if count < 1000:
        return counted(count, "byte")
    if round(count / 1e3, 1) < 1000:  # never "1000.0 kB"
        return f"{count / 1e3:.1f} kB"
    return f"{count / 1e6:.1f} MB"
