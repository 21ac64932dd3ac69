from django.apps import AppConfig


class SitewideConfig(AppConfig):
    """Site-wide machinery: middleware, the page cache, rate limits, error pages, checks."""

    name = "sitewide"
    verbose_name = "Site"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks
