"""The log filter that keeps personal data and forged lines out of the logs."""

import logging
import sys

from django.conf import settings
from django.db import OperationalError
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from sitewide.log_filters import RedactPersonalData


def make_record(message, *args, exc_info=None):
    return logging.LogRecord("django.request", logging.ERROR, __file__, 1, message, args, exc_info)


def test_log_filter_removes_addresses_and_personal_links():
    record = make_record(
        "Internal Server Error: %s for %s", "/aanmelding/AbC-123_xyz/annuleren/", "anna@example.nl"
    )

    RedactPersonalData().filter(record)

    assert (
        record.getMessage() == "Internal Server Error: /aanmelding/[token]/annuleren/ for [e-mail]"
    )


def test_log_filter_cleans_tracebacks():
    try:
        raise ValueError("Key (event_id, email)=(1, anna@example.nl) already exists.")
    except ValueError:
        record = make_record("boom", exc_info=sys.exc_info())

    RedactPersonalData().filter(record)

    assert "anna@example.nl" not in logging.Formatter().format(record)
    assert record.exc_text.endswith("ValueError: [message left out: it may quote personal data]")


def test_log_filter_leaves_participant_text_out_of_exception_messages():
    # Before: openpyxl's message quoted the name, raw ESC byte included, and so did the
    # exception it was raised while handling.
    name = "Anna\x1b[31m de Boer"  # not in the source lines of the frames below
    try:
        try:
            raise KeyError(name)
        except KeyError:
            Workbook().active.append([name])
    except IllegalCharacterError:
        record = make_record("Internal Server Error: %s", "/lijsten/", exc_info=sys.exc_info())

    RedactPersonalData().filter(record)

    logged = logging.Formatter().format(record)
    assert ("Anna" in logged, "\x1b" in logged) == (False, False)
    assert "KeyError: [message left out" in logged
    assert "openpyxl.utils.exceptions.IllegalCharacterError: [message left out" in logged
    assert "Workbook().active.append([name])" in logged  # the frames are still there


def test_log_filter_escapes_control_characters():
    record = make_record("Not Found: %s", "/x\n2026-01-01 ERROR forged\x1b[2J\x9b")

    RedactPersonalData().filter(record)

    assert record.getMessage() == "Not Found: /x\\x0a2026-01-01 ERROR forged\\x1b[2J\\x9b"


def test_log_filter_keeps_messages_of_connection_errors():
    try:
        raise OperationalError("connection to server at 127.0.0.1 port 5432 failed")
    except OperationalError:
        record = make_record("Database unavailable", exc_info=sys.exc_info())

    RedactPersonalData().filter(record)

    assert record.exc_text.endswith(
        "django.db.utils.OperationalError: connection to server at 127.0.0.1 port 5432 failed"
    )


def test_every_log_line_passes_the_filter():
    handler = settings.LOGGING["handlers"]["console"]

    assert handler["filters"] == ["redact_personal_data"]
    assert settings.LOGGING["root"]["handlers"] == ["console"]
    assert settings.LOGGING["loggers"]["django"] == {
        "handlers": [],
        "level": "INFO",
        "propagate": True,
    }
