from django.urls import path

from . import views

app_name = "speakers"

urlpatterns = [
    path("<slug:slug>/", views.speaker_detail, name="detail"),
]
