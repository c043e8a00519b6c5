"""The index behind the dashboard's new contacts per month (a range count per month on ``created_at``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_prefix_search_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["created_at"], name="contact_created_idx"),
        ),
    ]
