"""The HMI's configuration section (settings.KILN_CONFIG_SECTIONS): operator screens, keyed by slug.

A screen arrives as any other screen save does, through hmi.services.screen_save: its SVG sanitized, its bindings
validated against the drawing, a new ScreenVersion and an audit record. Every tag, device and screen a binding
names must be in the bundle, and must exist once every section is applied (checked again in the import's
transaction). Normalizing first means a bundle exported here and imported again compares equal
(sanitizing is idempotent).
"""

from __future__ import annotations

from hmi.bindings import BindingError, binding_devices, binding_screens, binding_tag_names, bindings_validate
from hmi.models import Screen
from hmi.sanitize import SvgRejected, svg_sanitize
from hmi.services import screen_delete, screen_save, screens_references_check
from scada.configsections import Field, ModelSection

__all__ = ["ScreenSection"]


class ScreenSection(ModelSection):
    """Screens: name, slug, description, the sanitized SVG, bindings, home flag and order."""

    name = "screens"
    model = Screen
    key_fields = ("slug",)
    fields = (
        Field("slug", max_length=64),
        Field("name", max_length=200),
        Field("description", default=""),
        Field("svg"),
        Field("bindings", kind="json", default=[], choices=("list",)),
        Field("is_home", kind="bool", default=False),
        Field("sort_order", kind="int", default=100, minimum=0, maximum=32767),
    )

    def normalize(self, item):
        item = super().normalize(item)
        try:
            clean = svg_sanitize(item["svg"])
            item["svg"] = clean.markup
            item["bindings"] = bindings_validate(item["bindings"], ids=clean.ids)
        except (SvgRejected, BindingError, TypeError, ValueError):
            pass  # check() reports it with the screen's key
        return item

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        for key, item in items.items():
            if fresh is None or key in fresh:  # an unchanged screen was sanitized and validated when stored
                try:
                    clean = svg_sanitize(item["svg"])
                    bindings_validate(item["bindings"], ids=clean.ids)
                except SvgRejected as exc:
                    problems.append((key, f"svg: {exc}"))
                    continue
                except BindingError as exc:
                    problems.append((key, "bindings: " + "; ".join(exc.errors)))
                    continue
            for label, names, section in (("tag", binding_tag_names(item["bindings"]), "tags"),
                                          ("device", binding_devices(item["bindings"]), "machines"),
                                          ("screen", binding_screens(item["bindings"]), "screens")):
                unknown = [n for n in names if n not in bundle.get(section, {})]
                if unknown:
                    problems.append((key, f"bindings: unknown {label}(s) in the bundle: {', '.join(unknown)}"))
        homes = sorted(k for k, item in items.items() if item["is_home"])
        if len(homes) > 1:
            problems.append((homes[1], f"is_home: only one home screen ({', '.join(homes)} are all marked)"))
        return problems

    def apply(self, *, added, changed, removed, ctx):
        # Screen by screen through the HMI's own service (versions, audit, the one home screen): a plant has tens
        # of screens, not thousands. References were checked against the bundle, which may add their targets.
        note = "configuration import"
        fields = ("slug", "name", "description", "svg", "bindings", "is_home", "sort_order")
        for item in added:
            screen_save(actor=ctx.user, data={k: item[k] for k in fields}, note=note, defer_references=True)
        for _old, new in changed:
            screen_save(actor=ctx.user, data={k: new[k] for k in fields}, screen=Screen.objects.get(slug=new["slug"]),
                        note=note, defer_references=True)
        for screen in Screen.objects.filter(slug__in=removed):
            screen_delete(actor=ctx.user, screen=screen)
        ctx.ids[self.name] = self.id_map()

    def after_apply(self) -> None:
        # Every section is applied (removals too): each screen's tags, devices and screens must exist now, or the
        # import's transaction rolls back with a 422 naming them. check() compared them with the bundle already;
        # this compares them with the tables.
        screens_references_check()
