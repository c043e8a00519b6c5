"""The product name key (for the name search and ordering) and the indexes behind the list orderings.

On PostgreSQL the prefix searches (LIKE 'x%') on order numbers, SKUs and product names also get pattern
indexes; SQLite needs none, its prefix searches are half-open ranges on the plain indexes
(see core.pagination.prefix_q).
"""

from django.db import migrations, models

from cuore.core.normalize import text_key

PATTERN_INDEXES = [
    ("order_number_pattern_idx", "orders_order", "number varchar_pattern_ops"),
    ("product_sku_pattern_idx", "orders_product", "sku varchar_pattern_ops"),
    ("product_name_pattern_idx", "orders_product", "name_key varchar_pattern_ops"),
]


def fill_name_keys(apps, schema_editor):
    Product = apps.get_model("orders", "Product")
    products = list(Product.objects.only("id", "name"))
    for product in products:
        product.name_key = text_key(product.name)
    Product.objects.bulk_update(products, ["name_key"], batch_size=1000)


def patterns_forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, columns in PATTERN_INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def patterns_backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _columns in PATTERN_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='name_key',
            field=models.CharField(default='', editable=False, max_length=200),
        ),
        migrations.RunPython(fill_name_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='category',
            index=models.Index(fields=['name', 'id'], name='category_name_idx'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['-total', '-id'], name='order_total_idx'),
        ),
        migrations.AddIndex(
            model_name='product',
            index=models.Index(fields=['name_key', 'id'], name='product_name_idx'),
        ),
        migrations.AddIndex(
            model_name='product',
            index=models.Index(fields=['-price', '-id'], name='product_price_idx'),
        ),
        migrations.RunPython(patterns_forwards, patterns_backwards),
    ]
