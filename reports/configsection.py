"""Reports' configuration section (settings.KILN_CONFIG_SECTIONS): report definitions, keyed by slug.

Runs, files and schedules are not configuration (schedules name e-mail recipients of one plant) and stay where
they are. A definition's logo is an uploaded file, not data: it is neither exported nor changed by an import.
"""

from __future__ import annotations

from django.utils import timezone

from reports.kinds import kinds
from reports.models import PageSize, ReportDefinition
from scada.configsections import Field, ModelSection

__all__ = ["ReportDefinitionSection"]


class ReportDefinitionSection(ModelSection):
    """Report definitions: a kind (installed code) with its title, defaults, tags, least role and page size."""

    name = "report_definitions"
    model = ReportDefinition
    key_fields = ("slug",)
    fields = (
        Field("slug", max_length=64),
        Field("title", max_length=200),
        Field("kind", max_length=64),
        Field("description", default=""),
        Field("defaults", kind="json", default={}, choices=("dict",)),
        Field("tags", kind="refs", ref="tags", path="tags__name", default=[]),
        Field("min_role", kind="role", default="operator"),
        Field("page_size", choices=tuple(PageSize.values), default=PageSize.A4.value),
        Field("enabled", kind="bool", default=True),
    )

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        installed = kinds()
        now = timezone.now()
        for key, item in items.items():
            if fresh is not None and key not in fresh:
                continue
            kind = installed.get(item["kind"])
            if kind is None:
                problems.append((key, f"kind: '{item['kind']}' is not installed here (KILN_REPORT_KINDS: "
                                      f"{', '.join(installed)})"))
                continue
            # As the admin form checks them: what a request could send; the tags they name are checked at run time.
            params = {p.name: p for p in kind.parameters}
            for name, value in item["defaults"].items():
                if name not in params:
                    problems.append((key, f"defaults: unknown parameter '{str(name)[:64]}'; {kind.name} takes "
                                          f"{', '.join(sorted(params)) or 'none'}"))
                elif value not in (None, "", []):
                    try:
                        params[name].clean(value, now=now)
                    except ValueError as exc:
                        problems.append((key, f"defaults: {name}: {exc}"))
        return problems
