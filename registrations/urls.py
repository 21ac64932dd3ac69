from django.urls import path

from . import staff_views, views

app_name = "registrations"

urlpatterns = [
    path("evenementen/<slug:slug>/aanmelden/", views.register, name="create"),
    path("evenementen/<slug:slug>/aanmelden/ontvangen/", views.registration_done, name="done"),
    path("reeksen/<slug:slug>/aanmelden/", views.register_for_series, name="series"),
    path("aanmelding/<slug:token>/", views.manage, name="manage"),
    path("aanmelding/<slug:token>/annuleren/", views.cancel, name="cancel"),
    path("privacy/", views.privacy, name="privacy"),
    # Moderators and organisers (personal data: every view checks permissions).
    path("mijn-sessies/", staff_views.my_sessions, name="my_sessions"),
    path(
        "lijsten/sessie/<int:offering_id>/",
        staff_views.offering_attendees,
        name="offering_attendees",
    ),
    path(
        "lijsten/sessie/<int:offering_id>/deelnemers.<str:fmt>",
        staff_views.offering_export,
        name="offering_export",
    ),
    path(
        "lijsten/sessie/<int:offering_id>/aanwezig/",
        staff_views.offering_checkin,
        name="offering_checkin",
    ),
    path(
        "lijsten/sessie/<int:offering_id>/moderatorkaart/",
        staff_views.offering_cue_card,
        name="offering_cue_card",
    ),
    path("lijsten/evenement/<int:event_id>/", staff_views.event_attendees, name="event_attendees"),
    path(
        "lijsten/evenement/<int:event_id>/deelnemers.<str:fmt>",
        staff_views.event_export,
        name="event_export",
    ),
    path(
        "lijsten/evenement/<int:event_id>/aanwezig/",
        staff_views.event_checkin,
        name="event_checkin",
    ),
    path(
        "organisatie/evenement/<int:event_id>/",
        staff_views.event_overview,
        name="event_overview",
    ),
    path(
        "organisatie/evenement/<int:event_id>/aanmeldingen.csv",
        staff_views.event_registrations_csv,
        name="event_registrations_csv",
    ),
]
