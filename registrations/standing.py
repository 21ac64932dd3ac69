"""Where a participant stands: for the event and for each chosen session exactly one
status, a seat or a numbered place on a waiting list.

Every page and e-mail that tells participants their status renders a ``Standing``
(templates/registrations/includes/standing.html, or its text in the e-mails), so that
they all say the same. The words live here, once.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import Registration, SessionChoice


@dataclass(frozen=True)
class ChoiceStanding:
    """One chosen session: a seat (``position`` None) or a place on its waiting list."""

    choice: SessionChoice
    position: int | None

    @property
    def offering(self):
        return self.choice.offering

    @property
    def is_waiting(self):
        return self.position is not None

    @property
    def status(self):
        if self.is_waiting:
            return _("waiting list, position %(position)s") % {"position": self.position}
        return _("place confirmed")


@dataclass(frozen=True)
class Standing:
    """A registration's status at the event (``position`` on its waiting list, or None
    for a seat) and for each of its active session choices, in time order."""

    registration: Registration
    position: int | None
    choices: list

    @property
    def is_waiting(self):
        return self.position is not None

    @property
    def waiting_choices(self):
        return sum(line.is_waiting for line in self.choices)

    @property
    def summary(self):
        """One sentence for the event as a whole, precise about what waits."""
        if self.is_waiting:
            return _(
                "You are on the waiting list for the event: position %(position)s. You do not "
                "have a place yet; we e-mail you as soon as one becomes available."
            ) % {"position": self.position}
        waiting = self.waiting_choices
        if waiting:
            return ngettext(
                "Your place at the event is confirmed. For %(count)s session you are on the "
                "waiting list, see below.",
                "Your place at the event is confirmed. For %(count)s sessions you are on the "
                "waiting list, see below.",
                waiting,
            ) % {"count": waiting}
        if self.choices:
            return _("Your place at the event and in all your sessions is confirmed.")
        return _("Your place at the event is confirmed.")


def standings(registrations):
    """{pk: Standing} of `registrations`, whose active ``choices`` are prefetched (with
    their offering, session and round), in at most two queries however many there are:
    one for the places on the event waiting lists, one for those of the sessions."""
    registrations = list(registrations)
    choices = [choice for registration in registrations for choice in registration.choices.all()]
    event_positions = Registration.objects.waiting_positions(registrations)
    choice_positions = SessionChoice.objects.waiting_positions(choices)
    return {
        registration.pk: Standing(
            registration=registration,
            position=event_positions.get(registration.pk),
            choices=[
                ChoiceStanding(choice=choice, position=choice_positions.get(choice.pk))
                for choice in registration.choices.all()
            ],
        )
        for registration in registrations
    }


def standing(registration):
    """The Standing of one `registration` (see ``standings``)."""
    return standings([registration])[registration.pk]
