"""Keep personal data out of the logs.

Used by Django's LOGGING (config/settings.py) and by gunicorn's access and error logs
(config/gunicorn.conf.py). This module imports nothing from Django, so gunicorn can load it
before the application.
"""

import logging
import re
import traceback

EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A personal link (/aanmelding/<token>/) gives access to a registration: never log the token.
PERSONAL_LINK = re.compile(r"(/aanmelding/)[^/\s?\"']+")
REDACTED_EMAIL = "[e-mail]"
REDACTED_TOKEN = r"\1[token]"
# Control characters (ESC starts terminal sequences, a line break forges a log line) are
# written as \x1b; a traceback keeps its line breaks.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_CHARACTERS_BUT_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# Exceptions whose messages describe a failing connection, not data: any other message may
# quote what someone typed (openpyxl quotes the refused text, IntegrityError the row).
INFRASTRUCTURE_ERRORS = {"OSError", "OperationalError", "InterfaceError"}
MESSAGE_LEFT_OUT = "[message left out: it may quote personal data]"


def _escape(match):
    return f"\\x{ord(match[0]):02x}" if ord(match[0]) < 0x100 else f"\\u{ord(match[0]):04x}"


def redact(text):
    """`text` without e-mail addresses and personal-link tokens."""
    text = EMAIL_ADDRESS.sub(REDACTED_EMAIL, text)
    return PERSONAL_LINK.sub(REDACTED_TOKEN, text)


def _exception_message(exc):
    if not any(cls.__name__ in INFRASTRUCTURE_ERRORS for cls in type(exc).__mro__):
        return MESSAGE_LEFT_OUT
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        return MESSAGE_LEFT_OUT


def format_exception(exc, seen=None):
    """A traceback like Python's, with the frames and exception types but, except for
    INFRASTRUCTURE_ERRORS, without the exception messages."""
    seen = seen or set()
    seen.add(id(exc))
    lines = []
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += format_exception(cause, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += format_exception(context, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if exc.__traceback__ is not None:
        lines += ["Traceback (most recent call last):\n", *traceback.format_tb(exc.__traceback__)]
    name = type(exc).__qualname__
    if type(exc).__module__ not in ("builtins", "__main__"):
        name = f"{type(exc).__module__}.{name}"
    lines.append(f"{name}: {_exception_message(exc)}\n")
    return lines


class RedactPersonalData(logging.Filter):
    """Rewrites each record's message and traceback before any handler formats it.

    Tracebacks matter too: an exception message can quote the text that failed, such as a
    participant's name (openpyxl's IllegalCharacterError) or a database row
    (``DETAIL: Key (event_id, email)=(1, anna@example.nl) already exists``), so they are
    left out.
    """

    def filter(self, record):
        record.msg = CONTROL_CHARACTERS.sub(_escape, redact(record.getMessage()))
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = "".join(format_exception(record.exc_info[1])).rstrip("\n")
        if record.exc_text:
            record.exc_text = CONTROL_CHARACTERS_BUT_NEWLINE.sub(_escape, redact(record.exc_text))
        if record.stack_info:
            record.stack_info = CONTROL_CHARACTERS_BUT_NEWLINE.sub(
                _escape, redact(record.stack_info)
            )
        return True
