"""Part 11 e-signatures as records of their own (accounts.Signature), append-only at the database like the audit
trail: the trail's trigger function (accounts 0002, 0004) refuses UPDATE, DELETE and TRUNCATE on the table too,
TRUNCATE being let through only in a database set up with kiln.allow_audit_truncate=on (the test suite's).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The same function as accounts 0004 (re-declared so this migration does not lean on another's side effect).
SIGNATURE_TRIGGERS = """
CREATE OR REPLACE FUNCTION kiln_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The test database sets kiln.allow_audit_truncate so the suite can reset between tests; a plant never does.
    IF TG_OP = 'TRUNCATE' AND current_setting('kiln.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER kiln_signature_no_update_delete BEFORE UPDATE OR DELETE ON accounts_signature
    FOR EACH ROW EXECUTE FUNCTION kiln_audit_append_only();
CREATE TRIGGER kiln_signature_no_truncate BEFORE TRUNCATE ON accounts_signature
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_audit_append_only();
"""
DROP_SIGNATURE_TRIGGERS = """
DROP TRIGGER IF EXISTS kiln_signature_no_update_delete ON accounts_signature;
DROP TRIGGER IF EXISTS kiln_signature_no_truncate ON accounts_signature;
"""


def signature_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SIGNATURE_TRIGGERS, params=None)


def drop_signature_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SIGNATURE_TRIGGERS, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_revocation_and_address_lockout'),
    ]

    operations = [
        migrations.CreateModel(
            name='Signature',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('signer_username', models.CharField(max_length=150)),
                ('printed_name', models.CharField(max_length=300)),
                ('meaning', models.CharField(max_length=200)),
                ('reason', models.TextField()),
                ('signed_at', models.DateTimeField(db_index=True)),
                ('object_type', models.CharField(max_length=64)),
                ('object_id', models.CharField(max_length=255)),
                ('content', models.JSONField()),
                ('content_hash', models.CharField(max_length=64)),
                ('signer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='signatures', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'signature',
                'ordering': ['-signed_at', '-id'],
                'indexes': [models.Index(fields=['object_type', 'object_id'], name='accounts_sig_object')],
                'constraints': [models.CheckConstraint(condition=models.Q(('meaning', ''), _negated=True), name='accounts_signature_meaning_set'), models.CheckConstraint(condition=models.Q(('reason', ''), _negated=True), name='accounts_signature_reason_set')],
            },
        ),
        migrations.RunPython(signature_append_only, drop_signature_append_only),
    ]
