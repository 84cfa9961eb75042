"""The built-in report definitions, one per shipped kind (engineers add more in Django admin).

A definition whose kind is not installed (KILN_REPORT_KINDS) is simply not listed, so batch-record can exist
before the batches app's report kind does.
"""

from django.db import migrations

OPERATOR, ADMIN = 10, 40

BUILTIN = [
    ("shift", "Shift report", "shift", OPERATOR,
     "A shift of the configured tags (min/max/average and trends), alarms raised and acknowledged, batches and "
     "operator actions."),
    ("tag-history", "Tag history", "tag-history", OPERATOR,
     "Chosen tags over a range, mode and interval: a trend chart per unit and a table."),
    ("alarm-journal", "Alarm journal", "alarm-journal", OPERATOR,
     "The alarm journal over a range with the journal's filters, plus counts by priority."),
    ("alarm-kpis", "Alarm KPIs (ISA-18.2)", "alarm-kpis", OPERATOR,
     "Alarm rate per 10 minutes, floods, chattering, stale and the top 10, for the monthly alarm review."),
    ("batch-record", "Batch record", "batch-record", OPERATOR,
     "The electronic batch record of one batch, with its signatures."),
    ("audit-trail", "Audit trail extract", "audit-trail", ADMIN,
     "Audit records over a range with the audit filters (Admin only)."),
]


def create(apps, schema_editor):
    ReportDefinition = apps.get_model("reports", "ReportDefinition")
    for slug, title, kind, role, description in BUILTIN:
        ReportDefinition.objects.get_or_create(slug=slug, defaults={
            "title": title, "kind": kind, "min_role": role, "description": description})


def remove(apps, schema_editor):
    apps.get_model("reports", "ReportDefinition").objects.filter(
        slug__in=[b[0] for b in BUILTIN], runs__isnull=True, schedules__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
