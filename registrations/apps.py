from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistrationsConfig(AppConfig):
    name = "registrations"
    verbose_name = _("Registrations")

    def ready(self):
        from django.db.models.signals import post_delete, post_save, pre_save

        from events.models import SessionOffering
        from events.page_scopes import event_changed
        from sitewide.pagecache import register_slot_filler

        from . import bookings, seat_slots
        from .models import SeatReservation

        register_slot_filler(seat_slots.PREFIX, seat_slots.fill)

        def reservations_changed(sender, instance, using="default", **kwargs):
            # Registering reads the reservations from the programme kept per app server.
            event_changed(instance.event_id, using=using)

        for signal in (post_save, post_delete):
            signal.connect(
                reservations_changed, sender=SeatReservation, weak=False, dispatch_uid=__name__
            )
        # Moving an offering moves its bookings (or is refused), in the offering's save.
        pre_save.connect(bookings.remember_placement, sender=SessionOffering, dispatch_uid=__name__)
        post_save.connect(bookings.carry_bookings, sender=SessionOffering, dispatch_uid=__name__)
