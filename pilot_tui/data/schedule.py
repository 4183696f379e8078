"""When scheduled backups run: ``"daily"``, ``"hourly"``, ``"off"`` or a five-field cron
expression (minute hour day-of-month month day-of-week, in UTC), parsed into sets of the
values each field admits.

Standard library only: the backup agent on the Docker host imports this module as it is
(see ``pilot_tui.data.agent``), and pilot.toml's checks use the same parser, so a schedule
that validates is the schedule that runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pilot_tui.errors import EXIT_INVALID, PilotError

NAMED = {"daily": "0 3 * * *", "hourly": "0 * * * *"}
OFF = "off"
# (name, lowest, highest) of each field, in order.
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),  # 0 and 7 are both Sunday
)
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
SEARCH_DAYS = 366 * 5  # "30 2 29 2 *" next runs in a leap year; nothing admits fewer


class ScheduleError(PilotError):
    """A schedule that cannot be read; the message says which part and why."""

    exit_code = EXIT_INVALID
    title = "Backup schedule"


@dataclass(frozen=True)
class Schedule:
    text: str  # as written ("daily"), for people
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Monday (Python's), 6 = Sunday
    any_day: bool  # day of month was "*"
    any_weekday: bool  # day of week was "*"

    def admits(self, moment: datetime) -> bool:
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        if moment.month not in self.months:
            return False
        day, weekday = moment.day in self.days, moment.weekday() in self.weekdays
        # cron's rule: when both day fields are restricted, either one admits the day.
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday

    def next_after(self, moment: datetime) -> datetime:
        """The first minute after ``moment`` (UTC) the schedule admits."""
        at = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = at + timedelta(days=SEARCH_DAYS)
        while at < end:
            if at.month not in self.months:
                at = (at.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self.admits(at.replace(hour=min(self.hours), minute=min(self.minutes))):
                at = at.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if at.hour not in self.hours:
                at = at.replace(minute=0) + timedelta(hours=1)
                continue
            if at.minute in self.minutes:
                return at
            at += timedelta(minutes=1)
        raise ScheduleError(f"schedule {self.text!r} never runs (no such date)")


def parse(text: str) -> Schedule | None:
    """The schedule ``text`` names; None for "off"."""
    spelled = text.strip().lower()
    if spelled == OFF:
        return None
    fields = NAMED.get(spelled, spelled).split()
    if len(fields) != len(FIELDS):
        raise ScheduleError(
            f"schedule {text!r} is not daily, hourly, off or a cron expression of five "
            'fields (minute hour day-of-month month day-of-week, in UTC, e.g. "30 2 * * *")'
        )
    values = [
        _field(raw, name, low, high) for raw, (name, low, high) in zip(fields, FIELDS, strict=True)
    ]
    weekdays = frozenset((day - 1) % 7 for day in values[4])  # cron's 0/7 Sunday → Python's 6
    minutes, hours, days, months = (frozenset(v) for v in values[:4])
    schedule = Schedule(
        text.strip(),
        minutes,
        hours,
        days,
        months,
        weekdays,
        any_day=fields[2] == "*",
        any_weekday=fields[4] == "*",
    )
    schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # one that never runs is an error
    return schedule


def _field(raw: str, name: str, low: int, high: int) -> set[int]:
    admitted: set[int] = set()
    for part in raw.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, name, 1, high - low + 1) if step_text else 1
        if body == "*":
            first, last = low, high
        elif "-" in body:
            start, _, end = body.partition("-")
            first, last = _number(start, name, low, high), _number(end, name, low, high)
            if first > last:
                raise ScheduleError(f"the {name} range {body!r} runs backwards")
        else:
            first = _number(body, name, low, high)
            last = high if step_text else first
        admitted.update(range(first, last + 1, step))
    return admitted


def _number(text: str, name: str, low: int, high: int) -> int:
    names = MONTHS if name == "month" else DAYS if name == "day of week" else []
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + (1 if name == "month" else 0)
    if not text.isdigit() or not low <= int(text) <= high:
        raise ScheduleError(f"{text!r} is not allowed in the {name} field ({low}-{high})")
    return int(text)
