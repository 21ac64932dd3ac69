# The former choice columns keep their values, which are now the codes of labels
# (created with every value in use by 0006).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0007_editable_event_kinds_and_roles'),
    ]

    operations = [
        migrations.AlterField(
            model_name='event',
            name='kind',
            field=models.ForeignKey(db_column='kind', default='meeting', on_delete=django.db.models.deletion.PROTECT, related_name='events', to='events.eventkind', to_field='code', verbose_name='kind'),
        ),
        migrations.AlterField(
            model_name='eventrole',
            name='role',
            field=models.ForeignKey(db_column='role', default='speaker', on_delete=django.db.models.deletion.PROTECT, related_name='event_roles', to='events.rolelabel', to_field='code', verbose_name='role'),
        ),
        migrations.AlterField(
            model_name='sessionrole',
            name='role',
            field=models.ForeignKey(db_column='role', default='leader', on_delete=django.db.models.deletion.PROTECT, related_name='session_roles', to='events.rolelabel', to_field='code', verbose_name='role'),
        ),
    ]

