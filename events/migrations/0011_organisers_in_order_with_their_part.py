# The organisers' join tables become through models with a part and an order. The
# tables and their rows stay (SeparateDatabaseAndState); only new columns are added.

import django.db.models.deletion
from django.db import migrations, models


def through_model(name, owner, owner_model, table, related_name, constraint):
    return migrations.CreateModel(
        name=name,
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("organisation", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="speakers.organisation", verbose_name="organisation")),
            (owner, models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name=related_name, to=owner_model, verbose_name=owner)),
        ],
        options={
            "db_table": table,
            "verbose_name": "organiser",
            "verbose_name_plural": "organisers",
            "ordering": ["order", "organisation__name"],
            "abstract": False,
            "constraints": [models.UniqueConstraint(fields=[owner, "organisation"], name=constraint)],
        },
    )


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0010_places_in_venue_and_doors_open'),
        ('speakers', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                through_model("EventOrganiser", "event", "events.event", "events_event_organisers", "organiser_links", "eventorganiser_once_per_event"),
                through_model("SeriesOrganiser", "series", "events.series", "events_series_organisers", "organiser_links", "seriesorganiser_once_per_series"),
                migrations.AlterField(
                    model_name="event",
                    name="organisers",
                    field=models.ManyToManyField(blank=True, related_name="organised_events", through="events.EventOrganiser", to="speakers.organisation", verbose_name="organisers"),
                ),
                migrations.AlterField(
                    model_name="series",
                    name="organisers",
                    field=models.ManyToManyField(blank=True, related_name="organised_series", through="events.SeriesOrganiser", to="speakers.organisation", verbose_name="organisers"),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="eventorganiser",
            name="role",
            field=models.CharField(choices=[("organiser", "Organised by"), ("partner", "In partnership with"), ("supporter", "Supported by")], default="organiser", max_length=20, verbose_name="their part"),
        ),
        migrations.AddField(
            model_name="eventorganiser",
            name="order",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="order"),
        ),
        migrations.AddField(
            model_name="seriesorganiser",
            name="role",
            field=models.CharField(choices=[("organiser", "Organised by"), ("partner", "In partnership with"), ("supporter", "Supported by")], default="organiser", max_length=20, verbose_name="their part"),
        ),
        migrations.AddField(
            model_name="seriesorganiser",
            name="order",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="order"),
        ),
        migrations.AddField(
            model_name="event",
            name="organisers_line",
            field=models.CharField(blank=True, help_text="For example 'in samenwerking met de bewoners van Overvecht'.", max_length=300, verbose_name="line about the organisers"),
        ),
        migrations.AddField(
            model_name="series",
            name="organisers_line",
            field=models.CharField(blank=True, help_text="For example 'in samenwerking met de bewoners van Overvecht'.", max_length=300, verbose_name="line about the organisers"),
        ),
    ]
