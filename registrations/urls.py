from django.urls import path

from . import views

app_name = "registrations"

urlpatterns = [
    path("evenementen/<slug:slug>/aanmelden/", views.register, name="create"),
    path("evenementen/<slug:slug>/aanmelden/ontvangen/", views.registration_done, name="done"),
    path("reeksen/<slug:slug>/aanmelden/", views.register_for_series, name="series"),
    path("aanmelding/<str:token>/", views.manage, name="manage"),
    path("aanmelding/<str:token>/annuleren/", views.cancel, name="cancel"),
    path("privacy/", views.privacy, name="privacy"),
]
