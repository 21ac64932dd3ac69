"""Helpers for the Playwright tests."""

from django.conf import settings
from django.test import Client


def log_in(context, site, user):
    """Log `user` in to the browser `context` for `site` (the live server's URL): a session
    made by Django's test client, its cookie handed to the browser."""
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": site,
            }
        ]
    )
