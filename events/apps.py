from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _fill_empty_label_lists(sender, using, apps=global_apps, **kwargs):
    # A flush (as between transactional tests) empties the lists the migrations filled.
    from . import defaults

    defaults.create_all(apps, using)


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("Events")

    def ready(self):
        from . import page_scopes

        # Programme changes renew the kept public pages that show them.
        page_scopes.connect()
        post_migrate.connect(_fill_empty_label_lists, sender=self)
