from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("Events")

    def ready(self):
        from . import page_scopes

        # Programme changes renew the kept public pages that show them.
        page_scopes.connect()
