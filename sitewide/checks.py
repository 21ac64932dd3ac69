"""System checks of the production configuration (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_trusted_proxy_count(app_configs, **kwargs):
    """The rate limits need to know how many proxies write X-Forwarded-For."""
    if settings.DEBUG or settings.TRUSTED_PROXY_COUNT is not None:
        return []
    return [
        Warning(
            "DJANGO_TRUSTED_PROXY_COUNT is not set: the rate limits use the address of the "
            "connection.",
            hint=(
                "Set it to the number of proxies in front of the app: 2 for a load "
                "balancer that terminates TLS and nginx, 1 for nginx alone (or behind a "
                "load balancer that passes TLS through), 0 if visitors connect to gunicorn "
                "directly (docs/deployment.md). "
                "Behind a proxy without it, all visitors share one count and anyone can "
                "lock everyone out; with too high a value, visitors can forge their address."
            ),
            id="sitewide.W001",
        )
    ]
