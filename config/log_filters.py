"""Keep personal data out of the logs.

Used by Django's LOGGING (config/settings.py) and by gunicorn's access and error logs
(config/gunicorn.conf.py). This module imports nothing from Django, so gunicorn can load it
before the application.
"""

import logging
import re

EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A personal link (/aanmelding/<token>/) gives access to a registration: never log the token.
PERSONAL_LINK = re.compile(r"(/aanmelding/)[^/\s?\"']+")
REDACTED_EMAIL = "[e-mail]"
REDACTED_TOKEN = r"\1[token]"


def redact(text):
    """`text` without e-mail addresses and personal-link tokens."""
    text = EMAIL_ADDRESS.sub(REDACTED_EMAIL, text)
    return PERSONAL_LINK.sub(REDACTED_TOKEN, text)


class RedactPersonalData(logging.Filter):
    """Rewrites each record's message and traceback before any handler formats it.

    Tracebacks matter too: a database error message can quote the row it refused
    (``DETAIL: Key (event_id, email)=(1, anna@example.nl) already exists``).
    """

    def filter(self, record):
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
