"""On PostgreSQL, add pattern indexes so that prefix searches (LIKE 'x%') use an index whatever the collation.

SQLite needs none: its prefix searches are half-open ranges on the plain indexes (see core.pagination.prefix_q).
"""

from django.db import migrations

INDEXES = [
    ("contact_last_name_pattern_idx", "contacts_contact", "last_name_key varchar_pattern_ops"),
    ("contact_first_name_pattern_idx", "contacts_contact", "first_name_key varchar_pattern_ops"),
    ("account_name_pattern_idx", "contacts_account", "name_key varchar_pattern_ops"),
    ("account_vat_pattern_idx", "contacts_account", "vat_number varchar_pattern_ops"),
    ("point_value_pattern_idx", "contacts_contactpoint", "kind, value_normalized varchar_pattern_ops"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, columns in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _columns in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
