"""Sessions with their leaders, rounds and seats from a spreadsheet (XLSX or CSV).

Three steps, so that nothing is saved until the whole sheet is right:
``read_sheet`` turns the file into rows of text (no database), ``check_rows`` matches them
against the event (rounds, existing sessions and speakers) and gives every row its messages,
and ``save_rows`` writes a sheet without messages in one transaction.
"""

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models.functions import Lower
from django.utils.text import slugify
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException

from sitewide import pagecache
from sitewide.text import plain_text
from speakers.models import Organisation, Speaker

from . import page_scopes
from .models import Round, Session, SessionKind, SessionOffering, SessionRole

SHEET_NAME = "Sessies"
# Column headings as organisers type them (Dutch, the language of the sheet), and the key
# each one fills. "soort" is read and shown, but not saved yet: see KIND_COLUMN.
COLUMNS = {
    "titel": "title",
    "thema": "theme",
    "soort": "kind",
    "korte tekst": "summary",
    "tekst": "description",
    "sessieleiders": "leaders",
    "sprekers": "speakers",
    "rondes": "rounds",
    "plaatsen": "seats",
    "tafel of zaal": "location",
}
REQUIRED = ("titel", "rondes")
MULTILINE = {"description", "leaders", "speakers", "rounds"}
KIND_COLUMN = "soort"  # the session kind, by its Dutch or English name or its code
MAX_ROWS = 500
MAX_BYTES = 2 * 1024 * 1024
PERSON = re.compile(r"^(?P<name>[^()]+?)\s*(?:\((?P<organisation>[^()]*)\))?$")


class SheetError(Exception):
    """The file as a whole cannot be read (not a sheet, empty, wrong columns)."""

    def __init__(self, messages):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


@dataclass
class Person:
    name: str
    organisation: str = ""


@dataclass
class SheetRow:
    """One row of the sheet: what it says, and (after check_rows) what is wrong with it."""

    number: int  # as the spreadsheet numbers it, the heading being row 1
    title: str = ""
    theme: str = ""
    kind: str = ""
    summary: str = ""
    description: str = ""
    leaders: list = field(default_factory=list)
    speakers: list = field(default_factory=list)
    round_names: list = field(default_factory=list)
    seats: str = ""
    location: str = ""
    errors: list = field(default_factory=list)
    # Filled by check_rows for saving:
    capacity: int | None = None
    rounds: list = field(default_factory=list)

    def as_data(self):
        """The row as plain data (for the signed preview form)."""
        return {
            "number": self.number,
            "title": self.title,
            "theme": self.theme,
            "kind": self.kind,
            "summary": self.summary,
            "description": self.description,
            "leaders": [[p.name, p.organisation] for p in self.leaders],
            "speakers": [[p.name, p.organisation] for p in self.speakers],
            "round_names": self.round_names,
            "seats": self.seats,
            "location": self.location,
        }

    @classmethod
    def from_data(cls, data):
        people = {key: [Person(*pair) for pair in data[key]] for key in ("leaders", "speakers")}
        return cls(**{**data, **people})


def template_workbook():
    """The empty sheet to download: the headings, one example row and an explanation."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFGHIJ", [40, 20, 15, 40, 60, 40, 40, 25, 10, 15], strict=True):
        sheet.column_dimensions[column].width = width
    explanation = workbook.create_sheet("Uitleg")
    for line in [
        ["kolom", "wat erin hoort"],
        ["titel", "De titel van de sessie (verplicht, één keer per evenement)."],
        ["thema", "Het thema, zoals op de sessiekaart."],
        ["soort", "Bijvoorbeeld tafelsessie of workshop."],
        ["korte tekst", "Eén of twee zinnen voor de sessiekaart."],
        ["tekst", "De volledige tekst."],
        ["sessieleiders", "Naam (Organisatie); Naam (Organisatie)"],
        ["sprekers", "Zelfde vorm als sessieleiders, voor sprekers en tafelgasten."],
        ["rondes", "De rondes van het programma, bijvoorbeeld: Ronde 1; Ronde 2 (of 1; 2)."],
        ["plaatsen", "Aantal plaatsen per ronde; leeg voor geen grens."],
        ["tafel of zaal", "Bijvoorbeeld Tafel 3."],
        [],
        ["Vul de sessies in op het blad 'Sessies', één sessie per rij, vanaf rij 2."],
    ]:
        explanation.append(line)
    explanation.column_dimensions["A"].width = 16
    explanation.column_dimensions["B"].width = 80
    return workbook


def read_sheet(uploaded):
    """The rows of an uploaded XLSX or CSV file, or SheetError for a file that is no sheet.

    Empty rows are skipped. Cells stay text here; check_rows decides what they mean.
    """
    content = uploaded.read(MAX_BYTES + 1)
    if not content:
        raise SheetError([_("The file is empty.")])
    if len(content) > MAX_BYTES:
        raise SheetError([_("The file is larger than 2 MB; is it the right file?")])
    # An .xlsx file is a zip archive, which starts with "PK".
    table = _xlsx_cells(content) if content[:2] == b"PK" else _csv_cells(content)
    table = [row for row in table if any(cell.strip() for cell in row)]
    if not table:
        raise SheetError([_("The sheet has no rows.")])
    header, *body = table
    columns = _columns(header)
    if not body:
        raise SheetError([_("The sheet has headings but no sessions.")])
    if len(body) > MAX_ROWS:
        raise SheetError([_("The sheet has more than %(max)d rows.") % {"max": MAX_ROWS}])
    rows = []
    for number, cells in enumerate(body, start=2):
        values = {
            key: plain_text(cells[index], multiline=key in MULTILINE).strip()
            for index, key in columns
            if index < len(cells)
        }
        rows.append(
            SheetRow(
                number=number,
                title=values.get("title", ""),
                theme=values.get("theme", ""),
                kind=values.get("kind", ""),
                summary=values.get("summary", ""),
                description=values.get("description", ""),
                leaders=_people(values.get("leaders", "")),
                speakers=_people(values.get("speakers", "")),
                round_names=_split(values.get("rounds", "")),
                seats=values.get("seats", ""),
                location=values.get("location", ""),
            )
        )
    return rows


def _xlsx_cells(content):
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise SheetError([_("This is not an Excel (.xlsx) or CSV file.")]) from None
    sheet = workbook[SHEET_NAME] if SHEET_NAME in workbook.sheetnames else workbook.worksheets[0]
    rows = [[_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return rows


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_cells(content):
    if b"\x00" in content:
        raise SheetError([_("This is not an Excel (.xlsx) or CSV file.")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")
    first_line = text.split("\n", 1)[0]
    delimiter = max([";", ",", "\t"], key=first_line.count)
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _columns(header):
    """(index, key) per known heading; SheetError for unknown or missing headings."""
    columns, seen, messages = [], set(), []
    for index, heading in enumerate(header):
        name = " ".join(heading.split()).lower().rstrip("*").strip()
        if not name:
            continue
        if name not in COLUMNS:
            messages.append(
                _("Unknown column “%(column)s”. The columns are: %(columns)s.")
                % {"column": heading.strip(), "columns": ", ".join(COLUMNS)}
            )
        elif name in seen:
            messages.append(_("The column “%(column)s” appears twice.") % {"column": name})
        else:
            seen.add(name)
            columns.append((index, COLUMNS[name]))
    for name in REQUIRED:
        if name not in seen:
            messages.append(_("The column “%(column)s” is missing.") % {"column": name})
    if messages:
        raise SheetError(messages)
    return columns


def _split(text):
    return [part.strip() for part in re.split(r"[;\n]", text) if part.strip()]


def _people(text):
    people = []
    for part in _split(text):
        match = PERSON.match(part)
        if match:
            people.append(Person(match["name"].strip(), (match["organisation"] or "").strip()))
        else:
            people.append(Person(part))
    return people


def check_rows(event, rows):
    """Give each row its messages (in Dutch), and resolve rounds and seats for saving.

    Queries: a fixed number, whatever the number of rows.
    """
    rounds = list(Round.objects.filter(event=event).order_by("day", "starts_at", "order", "pk"))
    by_title = {round_.title.lower(): round_ for round_ in rounds}
    existing = {
        title.lower()
        for title in Session.objects.filter(event=event).values_list("title", flat=True)
    }
    speakers = _speakers_named(rows)
    kinds = {}
    for kind in SessionKind.objects.for_event(event):
        for name in (kind.code, kind.name, kind.name_en):
            if name:
                kinds[name.lower()] = kind
    seen_titles = {}
    for row in rows:
        row.errors = []
        row.session_kind = kinds.get(row.kind.lower()) if row.kind else None
        if row.kind and row.session_kind is None:
            row.errors.append(
                _("Unknown kind “%(kind)s”. Kinds of session: %(kinds)s.")
                % {"kind": row.kind, "kinds": ", ".join(sorted({k.name for k in kinds.values()}))}
            )
        if not row.title:
            row.errors.append(_("The title is empty."))
        elif len(row.title) > Session._meta.get_field("title").max_length:
            row.errors.append(_("The title is longer than 250 characters."))
        elif row.title.lower() in existing:
            row.errors.append(_("This event already has a session with this title."))
        elif row.title.lower() in seen_titles:
            row.errors.append(
                _("The same session as in row %(row)d.") % {"row": seen_titles[row.title.lower()]}
            )
        else:
            seen_titles[row.title.lower()] = row.number
        row.rounds = []
        if not row.round_names:
            row.errors.append(
                _("Name at least one round, for example “%(round)s”.")
                % {"round": rounds[0].title if rounds else "Ronde 1"}
            )
        for name in row.round_names:
            round_ = by_title.get(name.lower())
            if round_ is None and name.isdigit() and 1 <= int(name) <= len(rounds):
                round_ = rounds[int(name) - 1]
            if round_ is None:
                row.errors.append(
                    _("Unknown round “%(round)s”. This event has: %(rounds)s.")
                    % {
                        "round": name,
                        "rounds": ", ".join(r.title for r in rounds) or _("no rounds yet"),
                    }
                )
            elif round_ in row.rounds:
                row.errors.append(_("The round “%(round)s” is named twice.") % {"round": name})
            else:
                row.rounds.append(round_)
        row.capacity = None
        if row.seats:
            if row.seats.isdigit() and int(row.seats) <= 10000:
                row.capacity = int(row.seats)
            else:
                row.errors.append(
                    _("“%(value)s” in the column plaatsen is not a number of seats.")
                    % {"value": row.seats}
                )
        if len(row.location) > SessionOffering._meta.get_field("location").max_length:
            row.errors.append(_("The table or room is longer than 100 characters."))
        if len(row.theme) > Session._meta.get_field("theme").max_length:
            row.errors.append(_("The theme is longer than 200 characters."))
        for person in [*row.leaders, *row.speakers]:
            if len(person.name) > 200 or len(person.organisation) > 200:
                row.errors.append(_("A name or organisation is longer than 200 characters."))
            elif len(_candidates(speakers, person)) > 1 and not _exact(speakers, person):
                row.errors.append(
                    _(
                        "There are several speakers named %(name)s; add their organisation "
                        "as it is on their speaker page."
                    )
                    % {"name": person.name}
                )
    return rows


def _speakers_named(rows):
    names = {p.name.lower() for row in rows for p in [*row.leaders, *row.speakers]}
    speakers = {}
    for speaker in (
        Speaker.objects.annotate(lower_name=Lower("name"))
        .filter(lower_name__in=names)
        .select_related("organisation")
    ):
        speakers.setdefault(speaker.lower_name, []).append(speaker)
    return speakers


def _candidates(speakers, person):
    return speakers.get(person.name.lower(), [])


def _exact(speakers, person):
    """The speaker of this name and organisation (or without one when none is given)."""
    organisation = person.organisation.lower()
    for speaker in _candidates(speakers, person):
        own = speaker.organisation.name.lower() if speaker.organisation_id else ""
        if own == organisation:
            return speaker
    return None


@transaction.atomic
def save_rows(event, rows):
    """Save checked rows without messages: sessions, their offerings and people.

    A person is an existing speaker when name and organisation match; the only speaker of
    that name otherwise, with the sheet's organisation as the affiliation for this session;
    else a new speaker (and organisation). Returns the new sessions.
    """
    rows = check_rows(event, rows)
    if any(row.errors for row in rows):
        raise ValueError("save_rows() needs rows without errors")
    speakers = _speakers_named(rows)
    new_people = _create_speakers(rows, speakers)
    first_order = max(
        Session.objects.filter(event=event).values_list("order", flat=True), default=0
    )
    used_slugs = set(Session.objects.filter(event=event).values_list("slug", flat=True))
    sessions = []
    for position, row in enumerate(rows, start=first_order + 1):
        sessions.append(
            Session(
                event=event,
                title=row.title,
                slug=_unique(slugify(row.title)[:190] or "sessie", used_slugs),
                theme=row.theme,
                summary=row.summary,
                description=row.description,
                order=position,
                kind=row.session_kind,
            )
        )
    Session.objects.bulk_create(sessions)
    roles, offerings = [], []
    for row, session in zip(rows, sessions, strict=True):
        people = [(SessionRole.Role.LEADER, p) for p in row.leaders]
        people += [(SessionRole.Role.SPEAKER, p) for p in row.speakers]
        seen = set()
        for order, (role, person) in enumerate(people, start=1):
            speaker, affiliation = _speaker_for(person, speakers, new_people)
            if (speaker.pk, role) in seen:
                continue
            seen.add((speaker.pk, role))
            roles.append(
                SessionRole(
                    session=session,
                    speaker=speaker,
                    role_id=role,
                    affiliation=affiliation,
                    order=order,
                )
            )
        offerings += [
            SessionOffering(
                event=event,
                session=session,
                round=round_,
                capacity=row.capacity,
                location=row.location,
                order=session.order,
            )
            for round_ in row.rounds
        ]
    SessionRole.objects.bulk_create(roles)
    SessionOffering.objects.bulk_create(offerings)
    # bulk_create sends no signals: renew the event's pages, and every page that may show
    # a new speaker or organisation.
    page_scopes.event_changed(event.pk)
    if new_people:
        pagecache.renew("site")
    return sessions


def _speaker_for(person, speakers, new_people):
    exact = _exact(speakers, person)
    if exact:
        return exact, ""
    candidates = _candidates(speakers, person)
    if candidates:
        own = candidates[0].organisation.name if candidates[0].organisation_id else ""
        return candidates[0], person.organisation if person.organisation != own else ""
    return new_people[(person.name.lower(), person.organisation.lower())], ""


def _create_speakers(rows, speakers):
    """New speakers (and organisations) for the people the site does not know yet."""
    wanted = {}
    for row in rows:
        for person in [*row.leaders, *row.speakers]:
            if not _candidates(speakers, person):
                wanted.setdefault((person.name.lower(), person.organisation.lower()), person)
    if not wanted:
        return {}
    organisation_names = {p.organisation for p in wanted.values() if p.organisation}
    organisations = {
        organisation.lower_name: organisation
        for organisation in Organisation.objects.annotate(lower_name=Lower("name")).filter(
            lower_name__in={name.lower() for name in organisation_names}
        )
    }
    used = _used_slugs(Organisation, [slugify(name) for name in organisation_names])
    new_organisations = []
    for name in sorted(organisation_names):
        if name.lower() not in organisations:
            organisation = Organisation(
                name=name, slug=_unique(slugify(name)[:190] or "organisatie", used)
            )
            organisations[name.lower()] = organisation
            new_organisations.append(organisation)
    Organisation.objects.bulk_create(new_organisations)
    used = _used_slugs(Speaker, [slugify(p.name) for p in wanted.values()])
    created = {}
    for key, person in wanted.items():
        created[key] = Speaker(
            name=person.name,
            slug=_unique(slugify(person.name)[:190] or "spreker", used),
            organisation=organisations.get(person.organisation.lower()),
        )
    Speaker.objects.bulk_create(created.values())
    return created


def _used_slugs(model, bases):
    """The taken slugs among `bases` and their numbered forms ("naam-2"), in one query."""
    pattern = r"^(" + "|".join(re.escape(base) for base in set(bases)) + r")(-[0-9]+)?$"
    return set(model.objects.filter(slug__regex=pattern).values_list("slug", flat=True))


def _unique(base, used):
    slug, number = base, 2
    while slug in used:
        slug = f"{base}-{number}"
        number += 1
    used.add(slug)
    return slug
