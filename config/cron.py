"""Cron expressions as times: which minutes a 5-field expression matches, read in UTC.

The usual cron rule applies: when both day-of-month and day-of-week are restricted, a day
matching either one matches. Beat's schedule (workers/schedule.py) and the staleness rule of
source health (newsdedup/source_status.py) both read schedules through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from newsdedup.config.sources import CRON_FIELD_RANGES

# A cron expression that matches no day within this span (e.g. "0 0 30 2 *") never fires.
CRON_HORIZON_DAYS = 366 * 5


def expand_cron_field(text: str, low: int, high: int) -> frozenset[int]:
    """'*', 'n', 'n-m', each with an optional '/step', comma-separated (config.sources checked
    the syntax and the ranges)."""
    values: set[int] = set()
    for item in text.split(","):
        spec, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            start, end = (int(n) for n in spec.split("-", 1))
        else:
            start = int(spec)
            end = high if step_text else start  # "5/15" means 5, 20, 35, 50
        values.update(range(start, end + 1, step))
    return frozenset(values)


class Cron:
    """A 5-field cron expression: minute hour day-of-month month day-of-week (0 or 7 = Sunday)."""

    def __init__(self, fields: Iterable[str]) -> None:
        fields = list(fields)
        if len(fields) != 5:
            raise ValueError(f"a cron expression has 5 fields, got {len(fields)}")
        minute, hour, dom, month, dow = (
            expand_cron_field(f, lo, hi) for f, (lo, hi) in zip(fields, CRON_FIELD_RANGES, strict=True)
        )
        self.minutes = sorted(minute)
        self.hours = sorted(hour)
        self.days = dom
        self.months = month
        self.weekdays = frozenset(d % 7 for d in dow)  # 0 = Sunday
        self.dom_restricted = fields[2] != "*"
        self.dow_restricted = fields[4] != "*"

    def day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.days
        dow_ok = (day.isoweekday() % 7) in self.weekdays
        if self.dom_restricted and self.dow_restricted:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after ``moment`` (aware), in UTC."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for offset in range(CRON_HORIZON_DAYS):
            current = day + timedelta(days=offset)
            if not self.day_matches(current):
                continue
            for hour in self.hours:
                for minute in self.minutes:
                    candidate = current.replace(hour=hour, minute=minute)
                    if candidate >= start:
                        return candidate
        return None
