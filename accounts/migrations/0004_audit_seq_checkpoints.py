"""Audit trail integrity: a gapless `seq` on every record, signed checkpoints of the chain head, and a keyed seal
over the records from before keyed hashing (docs/audit.md).

Existing rows get seq in id order (the order they were chained in). That is the one UPDATE this table ever sees:
the append-only trigger is disabled for it, inside this migration's transaction, and enabled again.
"""

from django.db import migrations, models

# The checkpoint table is append-only too, through the trail's own trigger function (accounts 0002).
CHECKPOINT_TRIGGERS = """
CREATE OR REPLACE FUNCTION kiln_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The test database sets kiln.allow_audit_truncate so the suite can reset between tests; a plant never does.
    IF TG_OP = 'TRUNCATE' AND current_setting('kiln.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER kiln_audit_checkpoint_no_update_delete BEFORE UPDATE OR DELETE ON accounts_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION kiln_audit_append_only();
CREATE TRIGGER kiln_audit_checkpoint_no_truncate BEFORE TRUNCATE ON accounts_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_audit_append_only();
"""
DROP_CHECKPOINT_TRIGGERS = """
CREATE OR REPLACE FUNCTION kiln_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The test database sets kiln.allow_audit_truncate so the suite can reset between tests; a plant never does.
    IF TG_OP = 'TRUNCATE' AND current_setting('kiln.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS kiln_audit_checkpoint_no_update_delete ON accounts_auditcheckpoint;
DROP TRIGGER IF EXISTS kiln_audit_checkpoint_no_truncate ON accounts_auditcheckpoint;
"""


def backfill_seq(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cur:
        if postgres:
            cur.execute("ALTER TABLE accounts_auditrecord DISABLE TRIGGER kiln_audit_no_update_delete")
        cur.execute(
            "UPDATE accounts_auditrecord SET seq = numbered.n FROM "
            "(SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM accounts_auditrecord) AS numbered "
            "WHERE accounts_auditrecord.id = numbered.id"
        )
        if postgres:
            cur.execute("ALTER TABLE accounts_auditrecord ENABLE TRIGGER kiln_audit_no_update_delete")


def checkpoint_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CHECKPOINT_TRIGGERS, params=None)


def drop_checkpoint_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_CHECKPOINT_TRIGGERS, params=None)


def seal_legacy(apps, schema_editor):
    from accounts.audit import audit_legacy_seal

    audit_legacy_seal(model=apps.get_model("accounts", "AuditRecord"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_auditrecord_hash_alg")]

    operations = [
        migrations.AddField(model_name="auditrecord", name="seq", field=models.BigIntegerField(null=True)),
        migrations.RunPython(backfill_seq, migrations.RunPython.noop),
        migrations.AlterField(model_name="auditrecord", name="seq", field=models.BigIntegerField(unique=True)),
        migrations.AlterField(
            model_name="auditrecord",
            name="hash_alg",
            field=models.CharField(default="hmac-sha256-v2", max_length=16),
        ),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created", models.DateTimeField()),
                ("seq", models.BigIntegerField(db_index=True)),
                ("head_hash", models.CharField(max_length=64)),
                ("signature", models.CharField(max_length=64)),
            ],
            options={"verbose_name": "audit checkpoint", "ordering": ["-seq", "-id"]},
        ),
        migrations.RunPython(checkpoint_append_only, drop_checkpoint_append_only),
        migrations.RunPython(seal_legacy, migrations.RunPython.noop),
    ]
