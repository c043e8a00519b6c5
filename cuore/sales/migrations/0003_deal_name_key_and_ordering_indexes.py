"""The deal name key (for the name search and ordering) and the indexes behind the deal and activity orderings.

On PostgreSQL the name prefix search (LIKE 'x%') also gets a pattern index; SQLite needs none, its prefix
searches are half-open ranges on the plain index (see core.pagination.prefix_q).
"""

from django.db import migrations, models

from cuore.core.normalize import text_key


def fill_name_keys(apps, schema_editor):
    Deal = apps.get_model("sales", "Deal")
    deals = list(Deal.objects.only("id", "name"))
    for deal in deals:
        deal.name_key = text_key(deal.name)
    Deal.objects.bulk_update(deals, ["name_key"], batch_size=1000)


def name_pattern_forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE INDEX IF NOT EXISTS deal_name_pattern_idx ON sales_deal (name_key varchar_pattern_ops)")


def name_pattern_backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS deal_name_pattern_idx")


class Migration(migrations.Migration):

    dependencies = [
        ('sales', '0002_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='deal',
            name='name_key',
            field=models.CharField(default='', editable=False, max_length=200),
        ),
        migrations.RunPython(fill_name_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(fields=['-created_at', '-id'], name='activity_created_idx'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(fields=['due_at', 'id'], name='activity_due_order_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['-created_at', '-id'], name='deal_created_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['name_key', 'id'], name='deal_name_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['-amount', '-id'], name='deal_amount_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['expected_close', 'id'], name='deal_close_order_idx'),
        ),
        migrations.RunPython(name_pattern_forwards, name_pattern_backwards),
    ]
