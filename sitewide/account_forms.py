"""The password-reset forms of /account/, laid out by the house template pack."""

from django.contrib.auth import forms
from django.utils.translation import gettext_lazy as _

from sitewide.layout import Button, form_helper


class PasswordResetForm(forms.PasswordResetForm):
    @property
    def helper(self):
        return form_helper("email", Button(_("Send the link"), type="submit"), novalidate=True)


class SetPasswordForm(forms.SetPasswordForm):
    @property
    def helper(self):
        return form_helper(
            "new_password1",
            "new_password2",
            Button(_("Save my new password"), type="submit"),
            novalidate=True,
        )
