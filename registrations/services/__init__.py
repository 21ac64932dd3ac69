"""Registering, changing and cancelling: the services that views, the admin and the
management commands call. Each runs in one transaction; every seat it claims or frees
goes through ``registrations.seats``; e-mails go through the outbox and are sent after
the commit.

- ``first_come``: registering, changing, cancelling and promoting, first come first served;
- ``preferences``: preference mode, ranking sessions, and the lottery that assigns them;
- ``mailings``: organisers' messages to the participants of an event or a session.
"""

from .first_come import (
    Outcome,
    Person,
    cancel_choice,
    cancel_registration,
    change_choices,
    check_registration_open,
    fill_free_seats,
    move_choice,
    move_up,
    register_attendee,
    register_for_series,
)
from .mailings import mailing_recipients, send_mailing
from .preferences import (
    change_preferences,
    confirm_allocation,
    register_preferences,
    run_allocation,
)

__all__ = [
    "Outcome",
    "Person",
    "cancel_choice",
    "cancel_registration",
    "change_choices",
    "change_preferences",
    "check_registration_open",
    "confirm_allocation",
    "fill_free_seats",
    "mailing_recipients",
    "move_choice",
    "move_up",
    "register_attendee",
    "register_for_series",
    "register_preferences",
    "run_allocation",
    "send_mailing",
]
