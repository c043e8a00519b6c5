"""Indexes behind the ticket and article list orderings, and (PostgreSQL) the ticket-number prefix search.

SQLite needs no pattern index: its prefix searches are half-open ranges on the unique index of
``number`` (see core.pagination.prefix_q).
"""

from django.db import migrations, models


def number_pattern_forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS ticket_number_pattern_idx ON service_ticket (number varchar_pattern_ops)"
    )


def number_pattern_backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS ticket_number_pattern_idx")


class Migration(migrations.Migration):

    dependencies = [
        ('service', '0002_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='article',
            index=models.Index(fields=['title', 'id'], name='article_title_idx'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['resolution_due', 'id'], name='ticket_resolution_order_idx'),
        ),
        migrations.RunPython(number_pattern_forwards, number_pattern_backwards),
    ]
