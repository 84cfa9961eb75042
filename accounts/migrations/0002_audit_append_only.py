"""On PostgreSQL the audit trail refuses UPDATE, DELETE and TRUNCATE at the database itself.

The only exception is TRUNCATE in a database configured with kiln.allow_audit_truncate=on, which the test
suite sets on its throw-away database so that transactional tests can be reset.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION kiln_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The test database sets kiln.allow_audit_truncate so the suite can reset between tests; a plant never does.
    IF TG_OP = 'TRUNCATE' AND current_setting('kiln.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'accounts_auditrecord is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS kiln_audit_no_update_delete ON accounts_auditrecord;
CREATE TRIGGER kiln_audit_no_update_delete BEFORE UPDATE OR DELETE ON accounts_auditrecord
    FOR EACH ROW EXECUTE FUNCTION kiln_audit_append_only();
DROP TRIGGER IF EXISTS kiln_audit_no_truncate ON accounts_auditrecord;
CREATE TRIGGER kiln_audit_no_truncate BEFORE TRUNCATE ON accounts_auditrecord
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS kiln_audit_no_update_delete ON accounts_auditrecord;
DROP TRIGGER IF EXISTS kiln_audit_no_truncate ON accounts_auditrecord;
DROP FUNCTION IF EXISTS kiln_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
