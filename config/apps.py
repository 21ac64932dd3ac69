from django.apps import AppConfig
from django.db.backends.signals import connection_created


class SiteConfig(AppConfig):
    """The project's own wiring as an app, so that its hooks run in commands too."""

    name = "config"
    verbose_name = "Site"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks
        from .pagecache import install_write_watcher

        # Every database connection (requests, commands, shell) invalidates cached pages
        # after it commits a write.
        connection_created.connect(install_write_watcher, dispatch_uid="config.pagecache")
