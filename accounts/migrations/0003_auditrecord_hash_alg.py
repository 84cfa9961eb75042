"""Keyed audit hashes: records written before this migration keep their plain SHA-256 ("sha256")."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_audit_append_only")]

    operations = [
        # Existing rows get "sha256" through the column default (no UPDATE, so the append-only trigger is not
        # involved); rows written from now on get the model default, "hmac-sha256".
        migrations.AddField(
            model_name="auditrecord",
            name="hash_alg",
            field=models.CharField(default="sha256", max_length=16),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditrecord",
            name="hash_alg",
            field=models.CharField(default="hmac-sha256", max_length=16),
        ),
    ]
