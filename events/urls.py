from django.urls import path

from . import views

app_name = "events"

urlpatterns = [
    path("", views.home, name="home"),
    path("reeksen/<slug:slug>/", views.series_detail, name="series"),
    path("reeksen/<slug:slug>/agenda.ics", views.series_ics, name="series_ics"),
    path("evenementen/<slug:slug>/", views.event_detail, name="detail"),
    path("evenementen/<slug:slug>/agenda.ics", views.event_ics, name="event_ics"),
    path(
        "evenementen/<slug:event_slug>/sessies/<slug:slug>/",
        views.session_detail,
        name="session",
    ),
]
