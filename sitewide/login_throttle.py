"""Login attempts limited per account name and per client address (sitewide/ratelimit.py).

Checking a password costs about half a second of CPU on purpose, so a flood of wrong
passwords slows the whole site down. Each login (on /account/login/ and /admin/login/)
is counted before its password is checked; over a limit it is refused without checking
it, even when the password is right. A login that succeeds gives its attempt back, so
that only failures add up.

The account is the name as typed, whether or not such an account exists: an unknown
name is counted and refused exactly like a known one, so the answer never tells which
accounts exist.
"""

import functools
import logging
import math

from crispy_forms import layout
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sitewide import ratelimit
from sitewide.layout import Button, form_helper

logger = logging.getLogger(__name__)


class ThrottledLogin:
    """For a subclass of AuthenticationForm: counts the attempt before authenticating."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()  # nothing to check a password against
        counted = [
            ("login-account", username.strip().casefold(), settings.LOGIN_RATE_LIMIT),
            (
                "login-address",
                ratelimit.client_address(self.request),
                settings.LOGIN_ADDRESS_RATE_LIMIT,
            ),
        ]
        waits = [ratelimit.hit(scope, identity, rate) for scope, identity, rate in counted]
        wait = max((wait for wait in waits if wait is not None), default=None)
        if wait is not None:
            logger.warning("Login rate limit reached")  # no name, no address
            self.request.login_retry_after = wait
            minutes = max(1, math.ceil(wait / 60))
            raise ValidationError(
                ngettext(
                    "Too many login attempts. Try again in %(minutes)s minute.",
                    "Too many login attempts. Try again in %(minutes)s minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                code="throttled",
            )
        cleaned_data = super().clean()  # raises for a wrong password
        for scope, identity, _rate in counted:
            ratelimit.give_back(scope, identity)
        return cleaned_data


class LoginForm(ThrottledLogin, AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each message says which field it is about: the summary lists them without labels.
        self.fields["username"].error_messages["required"] = _("Enter your user name.")
        self.fields["password"].error_messages["required"] = _("Enter your password.")

    @property
    def helper(self):
        return form_helper(
            "username",
            "password",
            # The page to go to after logging in; the view puts it in the context.
            layout.Hidden("next", "{{ next }}"),
            Button(_("Log in"), type="submit"),
            novalidate=True,
        )


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass


def answer_429_when_throttled(view):
    """A login view that answers a refused attempt (its form, with the message) with 429
    and Retry-After."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        wait = getattr(request, "login_retry_after", None)
        if wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response

    return wrapped
