"""Reading a programme pasted as text, as organisers have it in their invitations.

Pure functions: no database, no request. A line such as "14:00 – 14:30 ontvangst",
"15.00 - 15.45 uur ronde 1 tafelsessies" or "16.00 uur: ronde 2" becomes one programme
item; lines without a time at their start are kept as skipped, so the preview can show
every line and what became of it.
"""

import datetime
import re
from dataclasses import dataclass

ROUND = "round"
BLOCK = "block"

# Dutch month names and their usual abbreviations, for a day before the time ("19 november").
MONTHS = {
    "januari": 1,
    "jan": 1,
    "februari": 2,
    "feb": 2,
    "maart": 3,
    "mrt": 3,
    "april": 4,
    "apr": 4,
    "mei": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "augustus": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}

_TIME = r"(?P<{name}_h>[01]?\d|2[0-3])\s*[:.]\s*(?P<{name}_m>[0-5]\d)"
_WEEKDAY = "maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|ma|di|wo|do|vr|za|zo"
_DAY = r"(?:(?:" + _WEEKDAY + r")\.?\s+)?"
LINE = re.compile(
    r"^\s*(?:[-*•]\s*)?"
    + r"(?:"
    + _DAY
    + r"(?P<day>\d{1,2})\s+(?P<month>[a-z]+)\.?(?:\s+(?P<year>\d{4}))?\s*[,:.–—-]?\s*)?"
    + r"(?:van\s+|om\s+)?"
    + _TIME.format(name="start")
    + r"(?:\s*u(?:ur)?\b\.?)?"
    + r"(?:\s*(?:[-–—]|tot)\s*"
    + _TIME.format(name="end")
    + r")?"
    + r"(?:\s*u(?:ur)?\b\.?)?"
    + r"\s*[:.,–—-]?\s*"
    + r"(?P<title>.*?)\s*$",
    re.IGNORECASE,
)
ROUND_WORD = re.compile(r"ronde\b|\bround\b", re.IGNORECASE)

# First match wins: "afsluiting en borrel" is a closing, "borrel" alone drinks.
BLOCK_KINDS = [
    (re.compile(r"ontvangst|inloop|registratie|welkomstkoffie", re.I), "reception"),
    (re.compile(r"pauze|lunch|koffie|break", re.I), "break"),
    (re.compile(r"afsluit|afronding|slot|closing", re.I), "closing"),
    (re.compile(r"borrel|drankje", re.I), "drinks"),
    (re.compile(r"plenair|welkom|opening|keynote|interview|debat", re.I), "plenary"),
]
DEFAULT_KIND = "plenary"


@dataclass
class ProgrammeLine:
    """One pasted line and what it became: a block, a round, or nothing (skipped or error)."""

    number: int
    text: str
    item_type: str = ""  # BLOCK, ROUND, or "" when the line made nothing
    kind: str = ""
    day: datetime.date | None = None
    starts_at: datetime.time | None = None
    ends_at: datetime.time | None = None
    title: str = ""
    error: str = ""  # an English code, translated by the view

    @property
    def is_item(self):
        return bool(self.item_type)


def parse_programme(text, *, year=None):
    """Every non-empty line of `text` as a ProgrammeLine, in the order pasted.

    `year` completes a day given without one ("19 november"). Kinds of blocks are guessed
    from their words; a block after the last round without a kind of its own is a closing.
    """
    lines = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        if raw.strip():
            lines.append(_parse_line(number, raw.strip(), year))
    last_round = max((i for i, line in enumerate(lines) if line.item_type == ROUND), default=None)
    if last_round is not None:
        for line in lines[last_round + 1 :]:
            if line.item_type == BLOCK and line.kind == DEFAULT_KIND and not _guessed(line.title):
                line.kind = "closing"
    return lines


def _parse_line(number, text, year):
    line = ProgrammeLine(number=number, text=text)
    match = LINE.match(text)
    if not match:
        line.error = "no_time"
        return line
    start = _time(match, "start")
    end = _time(match, "end") if match.group("end_h") else None
    title = match.group("title").strip(" :–—-")
    line.day = _day(match, year)
    if match.group("day") and line.day is None:
        line.error = "bad_day"
        return line
    if not title:
        line.error = "no_title"
        return line
    if end is not None and end <= start:
        line.error = "end_before_start"
        return line
    line.starts_at, line.ends_at = start, end
    line.title = title[:1].upper() + title[1:]
    if ROUND_WORD.search(title):
        line.item_type = ROUND
    else:
        line.item_type = BLOCK
        line.kind = _guessed(title) or DEFAULT_KIND
    return line


def _time(match, name):
    return datetime.time(int(match.group(f"{name}_h")), int(match.group(f"{name}_m")))


def _day(match, year):
    if not match.group("day"):
        return None
    month = MONTHS.get(match.group("month").lower())
    year = int(match.group("year") or year or 0)
    if not month or not year:
        return None
    try:
        return datetime.date(year, month, int(match.group("day")))
    except ValueError:
        return None


def _guessed(title):
    return next((kind for pattern, kind in BLOCK_KINDS if pattern.search(title)), "")
