from django.apps import AppConfig
from django.db.backends.signals import connection_created


class SitewideConfig(AppConfig):
    """Site-wide machinery: middleware, the page cache, rate limits, error pages, checks."""

    name = "sitewide"
    verbose_name = "Site"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks
        from .pagecache import install_write_watcher

        # Every database connection (requests, commands, shell) invalidates cached pages
        # after it commits a write.
        connection_created.connect(install_write_watcher, dispatch_uid="sitewide.pagecache")
