"""The index behind the dashboard's SLA compliance by month of opening (a range scan per month on ``created_at``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("service", "0003_ordering_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["created_at"], name="ticket_created_idx"),
        ),
    ]
