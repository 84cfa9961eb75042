"""Configuration as code: the section protocol (settings.KILN_CONFIG_SECTIONS) and a generic model-backed section.

A section is one kind of configuration object (sites, tags, driver connections, alarm definitions, screens...)
owned by one app, in `<app>/configsection.py`. KILN_CONFIG_SECTIONS lists them in dependency order: a section
refers only to sections before it, so an import creates and changes in that order and removes in the reverse one.
The deploy app exports, diffs and imports bundles through this protocol alone: it reads no app's tables, and an
app adds a section without touching deploy.

The protocol (duck-typed; ModelSection below implements it for one Django model):
    name: str                                   the bundle key, e.g. "tags"
    csv: bool                                   offered for CSV bulk editing
    key(item) -> str                            an item's identity, unique within the section
    export() -> list[dict]                      every item, JSON types only, sorted by key, no secrets
    shape_errors(item) -> list[str]             type/shape problems of one bundle item (no database)
    check(items, bundle, fresh) -> [(key, msg)] semantic problems of the desired items against the whole bundle;
                                                the model's own validation runs on the keys in `fresh` only (added,
                                                changed, or referring to an added or changed item): the rest were
                                                valid when stored and are byte-equal to what is stored
    dependents(items, fresh) -> set[str]        keys of items that refer to a fresh item of another section
    apply(added, changed, removed, ctx)         write inside the import's transaction
    after_apply()                               optional: after every section applied (removals too), in the
                                                import's transaction (derived rows; checks against the tables)
    committed()                                 after commit: tell running processes (pollers, alarm engines)
    json_schema() -> dict                       the JSON Schema of one item (docs, editors)
`bundle` maps section name → {key: item} for every section of the bundle being imported.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import signals
from django.db.models.base import ModelState
from django.db.models.expressions import DatabaseDefault

from scada.bulk import bulk_insert
from scada.roles import Role
from scada.text import has_nul

__all__ = ["Field", "ModelSection", "ImportContext", "ROLE_LABELS"]

ROLE_LABELS = {r.label: int(r) for r in Role}
_MISSING = object()
# Far beyond any plant value yet well inside float64: refuses 1e308-style input that overflows arithmetic later.
NUMBER_LIMIT = 1e15


@dataclass(frozen=True)
class Field:
    """One exported field. `kind`: str, int, float, bool, json, role (exported as its label), ref (the key of an
    item of section `ref`; `path` then names the ORM path(s) of the referred key, joined with "/") or refs (a
    many-to-many: the sorted keys of items of section `ref`; `path` is `<m2m field>__<key field>`)."""

    name: str
    kind: str = "str"
    path: str | tuple[str, ...] | None = None
    null: bool = False
    default: Any = _MISSING
    choices: tuple = ()
    ref: str = ""
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        p = self.path or self.name
        return p if isinstance(p, tuple) else (p,)

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass
class ImportContext:
    """What an import's sections share while they apply: the natural key → primary key map of each section
    already applied (so later sections resolve references without a query per row) and the acting user."""

    user: Any = None
    ids: dict[str, dict[str, int]] = field(default_factory=dict)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type_error(f: Field, value) -> str | None:
    if value is None:
        return None if f.null else "may not be null"
    kind = f.kind
    if kind in ("str", "ref"):
        if not isinstance(value, str):
            return "must be a string"
        if "\x00" in value:
            return "contains a NUL character"
        if not _utf8(value):
            return "is not valid UTF-8 text (a lone surrogate)"
        if f.max_length is not None and len(value) > f.max_length:
            return f"at most {f.max_length} characters"
        if f.choices and value not in f.choices:
            return f"must be one of {', '.join(map(str, f.choices))}"
    elif kind == "refs":
        if not isinstance(value, list) or not all(isinstance(v, str) and v and "\x00" not in v for v in value):
            return "must be a list of keys"
    elif kind == "role":
        if not isinstance(value, str) or value.lower() not in ROLE_LABELS:
            return f"must be one of {', '.join(ROLE_LABELS)}"
    elif kind == "bool":
        if not isinstance(value, bool):
            return "must be true or false"
    elif kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        if kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
            return "must be a whole number"
        if not math.isfinite(value) or abs(value) > NUMBER_LIMIT:
            return f"must be a finite number within ±{NUMBER_LIMIT:g}"
        if f.minimum is not None and value < f.minimum:
            return f"must be ≥ {f.minimum:g}"
        if f.maximum is not None and value > f.maximum:
            return f"must be ≤ {f.maximum:g}"
        if f.choices and value not in f.choices:
            return f"must be one of {', '.join(map(str, f.choices))}"
    elif kind == "json":
        if f.choices and type(value).__name__ not in f.choices:
            return {"dict": "must be an object", "list": "must be a list"}.get(f.choices[0], "has the wrong type")
        if has_nul(value):
            return "contains a NUL character"
        if not _utf8(json.dumps(value, ensure_ascii=False)):
            return "is not valid UTF-8 text (a lone surrogate)"
    return None


class ModelSection:
    """A section backed by one model whose rows are identified by natural key fields (`key_fields`).

    Subclasses set `name`, `model`, `fields`, `key_fields` and may extend `check` (cross-item and cross-section
    rules), `clean_instance` (the model's own validation on an unsaved row), `removing` and `committed`.
    """

    name: str = ""
    model: type[models.Model]
    fields: tuple[Field, ...] = ()
    key_fields: tuple[str, ...] = ("name",)
    csv: bool = False
    batch_size = 2000

    def __init__(self):
        self._by_name = {f.name: f for f in self.fields}
        self._refs = [f for f in self.fields if f.kind == "ref"]
        self._many = [f for f in self.fields if f.kind == "refs"]
        self._blank = model_blank(self.model)
        # Field values the model's own field validation accepted, per field: most tags share their datatype,
        # unit, limits and flags, so 20,000 tags run each distinct value's validators once (clean_fields).
        self._valid: dict[tuple, Any] = {}
        # Instances check() built and validated, by key: apply() sets their references and saves them, rather
        # than building 45,000 model instances a second time (sections are fresh per import).
        self._built: dict[str, models.Model] = {}

    # --- identity and export --------------------------------------------------------------------------------
    def key(self, item: dict) -> str:
        return "/".join(str(item.get(f, "")) for f in self.key_fields)

    def queryset(self):
        return self.model.objects.all()

    def export(self) -> list[dict]:
        paths = ["pk"] + [p for f in self.fields if f.kind != "refs" for p in f.paths]
        rows = list(self.queryset().values(*dict.fromkeys(paths)))
        for f in self.fields:
            if f.kind == "refs":  # one query per many-to-many field, not one per row
                keys: dict[int, list[str]] = {}
                for pk, key in self.queryset().filter(**{f"{f.paths[0]}__isnull": False}).values_list("pk",
                                                                                                     f.paths[0]):
                    keys.setdefault(pk, []).append(key)
                for row in rows:
                    row[f.paths[0]] = sorted(keys.get(row["pk"], []))
        items = [self._item(row) for row in rows]
        items.sort(key=self.key)
        return items

    def _item(self, row: dict) -> dict:
        item = {}
        for f in self.fields:
            if f.kind == "ref":
                parts = [row[p] for p in f.paths]
                item[f.name] = None if any(p is None for p in parts) else "/".join(str(p) for p in parts)
            elif f.kind == "role":
                item[f.name] = Role(row[f.paths[0]]).label
            else:
                item[f.name] = row[f.paths[0]]
        return item

    def id_map(self) -> dict[str, int]:
        """Natural key → primary key of every row (after this section applied, for later sections' references)."""
        paths = [p for name in self.key_fields for p in self._by_name[name].paths]
        out = {}
        for row in self.queryset().values("pk", *paths):
            out["/".join(str(row[p]) for p in paths)] = row["pk"]
        return out

    # --- validation -------------------------------------------------------------------------------------------
    def json_schema(self) -> dict:
        props = {}
        for f in self.fields:
            if f.kind in ("str", "ref"):
                s: dict = {"type": "string"}
                if f.max_length:
                    s["maxLength"] = f.max_length
                if f.choices:
                    s["enum"] = list(f.choices)
            elif f.kind == "role":
                s = {"enum": list(ROLE_LABELS)}
            elif f.kind == "refs":
                s = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
            elif f.kind == "bool":
                s = {"type": "boolean"}
            elif f.kind in ("int", "float"):
                s = {"type": "integer" if f.kind == "int" else "number",
                     "minimum": -NUMBER_LIMIT if f.minimum is None else f.minimum,
                     "maximum": NUMBER_LIMIT if f.maximum is None else f.maximum}
                if f.choices:
                    s["enum"] = list(f.choices)
            else:
                s = {}
            if f.null and "type" in s:
                s["type"] = [s["type"], "null"]
            elif f.null and "enum" in s:
                s["enum"] = [*s["enum"], None]
            if f.ref:
                s["description"] = f"key of an item of section '{f.ref}'"
            props[f.name] = s
        return {"type": "object", "additionalProperties": False, "properties": props,
                "required": [f.name for f in self.fields if f.required]}

    def shape_errors(self, item) -> list[str]:
        if not isinstance(item, dict):
            return ["must be an object"]
        errors = [f"unknown field '{str(k)[:64]}'" for k in item if k not in self._by_name]
        for f in self.fields:
            if f.name not in item:
                if f.required:
                    errors.append(f"{f.name}: this field is required")
                continue
            problem = _type_error(f, item[f.name])
            if problem:
                errors.append(f"{f.name}: {problem}")
        return errors

    def normalize(self, item: dict) -> dict:
        """The item with defaults filled in and in field order, as export would write it."""
        out = {}
        for f in self.fields:
            value = item.get(f.name, copy.deepcopy(f.default) if not f.required else None)
            if f.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif f.kind == "int" and isinstance(value, float):
                value = int(value)
            elif f.kind == "role" and isinstance(value, str):
                value = value.lower()
            elif f.kind == "refs" and isinstance(value, list):
                value = sorted(set(value))
            out[f.name] = value
        return out

    def build(self, item: dict, ctx: ImportContext | None = None):
        """An unsaved model instance from an item; references resolved through ctx when given."""
        obj = self._blank()
        for f in self.fields:
            self._set(obj, f, item[f.name], ctx)
        return obj

    def _saveable(self, item: dict, ctx: ImportContext):
        """The instance check() validated for this item (or a new one), with its references resolved."""
        obj = self._built.pop(self.key(item), None)
        if obj is None:
            return self.build(item, ctx)
        for f in self._refs:
            self._set(obj, f, item[f.name], ctx)
        return obj

    def _set(self, obj, f: Field, value, ctx):
        if f.kind == "refs":
            return  # a many-to-many: written by apply() once the row exists
        if f.kind == "ref":
            attr = f.paths[0].split("__")[0]
            setattr(obj, f"{attr}_id", None if value is None or ctx is None else ctx.ids[f.ref][value])
        elif f.kind == "role":
            setattr(obj, f.paths[0], ROLE_LABELS[value])
        else:
            setattr(obj, f.paths[0], value)

    def clean_instance(self, obj, item: dict, bundle: dict) -> None:
        """The model's own field and row validation on an unsaved instance (references not set)."""
        exclude = [f.paths[0].split("__")[0] for f in self.fields if f.kind == "ref"]
        self.clean_fields(obj, exclude=exclude)
        obj.clean()

    def clean_fields(self, obj, *, exclude) -> None:
        """Model.clean_fields(exclude) on `obj`, remembering each field value that passed.

        Only where a field's validation is a function of the value alone: plain Django fields (not relations,
        whose validation queries) and values of an immutable scalar type. A value seen valid before is set
        as it was cleaned then, without running to_python, choices and validators again.
        """
        errors = {}
        for f in obj._meta.fields:
            if f.name in exclude or f.generated:
                continue
            raw = getattr(obj, f.attname)
            if f.blank and raw in f.empty_values or isinstance(raw, DatabaseDefault):
                continue  # as Model.clean_fields: blank values of blank fields are not validated
            key = (f.attname, type(raw), raw) if type(raw) in _SCALARS and _value_pure(f) else None
            cleaned = self._valid.get(key, _MISSING) if key is not None else _MISSING
            if cleaned is _MISSING:
                try:
                    cleaned = f.clean(raw, obj)
                except ValidationError as e:
                    errors[f.name] = e.error_list
                    continue
                if key is not None:
                    # Unchanged by cleaning: later equal values keep their own (0.0 and -0.0 are equal keys).
                    self._valid[key] = _SAME if type(cleaned) is type(raw) and cleaned == raw else cleaned
            if cleaned is not _SAME:
                setattr(obj, f.attname, cleaned)
        if errors:
            raise ValidationError(errors)

    def check(self, items: dict[str, dict], bundle: dict[str, dict[str, dict]],
              fresh: set[str] | None = None) -> list[tuple[str, str]]:
        """Semantic problems: references to items that the bundle does not have (every item), and the model's own
        validation (the items in `fresh`, or every item when it is None)."""
        problems = self.ref_problems(items, bundle)
        for key, item in items.items():
            if fresh is not None and key not in fresh:
                continue
            obj = self.build(item)
            try:
                self.clean_instance(obj, item, bundle)
            except ValidationError as exc:
                problems.append((key, _validation_text(exc)))
            else:
                self._built[key] = obj
        return problems

    def dependents(self, items: dict[str, dict], fresh: dict[str, set[str]]) -> set[str]:
        """Keys of the items whose references name a fresh (added or changed) item of another section: a changed
        tag datatype must be checked again against the unchanged alarm definitions and bindings on that tag."""
        refs = [f for f in self.fields if f.kind in ("ref", "refs") and fresh.get(f.ref)]
        if not refs:
            return set()
        return {key for key, item in items.items()
                if any(not fresh[f.ref].isdisjoint(item[f.name] if f.kind == "refs" else (item[f.name],))
                       for f in refs)}

    def ref_problems(self, items: dict[str, dict], bundle: dict[str, dict[str, dict]]) -> list[tuple[str, str]]:
        """References to items the bundle does not have (also run on sections the bundle leaves as they are)."""
        problems = []
        refs = [f for f in self.fields if f.kind in ("ref", "refs")]
        for key, item in items.items():
            for f in refs:
                values = item[f.name] if f.kind == "refs" else (item[f.name],)
                for value in values:
                    if value is not None and f.ref in bundle and value not in bundle[f.ref]:
                        problems.append((key, f"{f.name}: no {f.ref} item '{value}' in the bundle"))
        return problems

    # --- apply ------------------------------------------------------------------------------------------------
    def removing(self, pks: list[int]) -> None:
        """Hook before rows are deleted (e.g. remember what to clean up after commit)."""

    def apply(self, *, added: list[dict], changed: list[tuple[dict, dict]], removed: list[str],
              ctx: ImportContext) -> None:
        """Create `added`, update `changed` ((old, new) pairs) and delete `removed` (keys), in bulk."""
        current = self.id_map() if removed or changed else {}
        if removed:
            pks = [current[k] for k in removed]
            self.removing(pks)
            for start in range(0, len(pks), self.batch_size):
                self.model.objects.filter(pk__in=pks[start:start + self.batch_size]).delete()
        if changed:
            by_fields: dict[tuple[str, ...], list] = {}
            for old, new in changed:
                names = tuple(f.name for f in self.fields if f.kind != "refs" and old[f.name] != new[f.name])
                obj = self._saveable(new, ctx)
                obj.pk = current[self.key(new)]
                by_fields.setdefault(names, []).append(obj)
            for names, objs in by_fields.items():
                columns = [self._column(self._by_name[n]) for n in names] + ["last_updated"]
                now = _now()
                for obj in objs:
                    obj.last_updated = now
                self.model.objects.bulk_update(objs, columns, batch_size=self.batch_size)
        if added:
            bulk_insert(self.model, [self._saveable(item, ctx) for item in added], batch_size=self.batch_size)
        ctx.ids[self.name] = self.id_map()
        if self._many and (added or changed):
            self._apply_many([*added, *(new for _old, new in changed)], ctx)

    def _apply_many(self, items: list[dict], ctx: ImportContext) -> None:
        """Replace the many-to-many rows of `items` (saved by now): one DELETE and one INSERT per field."""
        pks = {self.key(item): ctx.ids[self.name][self.key(item)] for item in items}
        for f in self._many:
            m2m = self.model._meta.get_field(f.paths[0].split("__")[0])
            through = m2m.remote_field.through
            src, dst = m2m.m2m_field_name(), m2m.m2m_reverse_field_name()
            through.objects.filter(**{f"{src}_id__in": list(pks.values())}).delete()
            targets = ctx.ids[f.ref]
            through.objects.bulk_create([through(**{f"{src}_id": pks[self.key(item)], f"{dst}_id": targets[k]})
                                         for item in items for k in item[f.name]], batch_size=self.batch_size)

    @staticmethod
    def _column(f: Field) -> str:
        attr = f.paths[0].split("__")[0]
        return attr if f.kind != "ref" else attr

    def committed(self) -> None:
        """After the import commits: tell running processes (override)."""


_SAME = object()
_SCALARS = frozenset((str, int, float, bool, type(None)))


@functools.cache
def _value_pure(f) -> bool:
    """Whether field `f`'s clean() depends on the value alone (Django's own non-relational fields)."""
    return not f.is_relation and type(f).__module__.startswith("django.db.models.fields") \
        and type(f).validate in _PURE_VALIDATE


_PURE_VALIDATE = frozenset((models.Field.validate, models.JSONField.validate))


def model_blank(model: type[models.Model]):
    """A function making unsaved instances of `model` with every field at its default, like model() does, ~20
    times faster (a config import builds 45,000): a template's values copied, callable and mutable defaults made
    anew per instance. model() itself when the model has init signal receivers."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return model
    template = {k: v for k, v in model().__dict__.items() if k != "_state"}
    fresh = {}
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            fresh[f.attname] = f.get_default
        elif isinstance(template.get(f.attname), dict | list | set):
            fresh[f.attname] = f.get_default
    if set(template) - {f.attname for f in model._meta.concrete_fields}:
        return model  # something beyond field values (a cache set in __init__): keep model()

    def blank():
        obj = model.__new__(model)
        obj.__dict__.update(template)
        obj._state = ModelState()
        for attname, default in fresh.items():
            obj.__dict__[attname] = default()
        return obj

    return blank


def _now():
    from django.utils import timezone

    return timezone.now()


def _validation_text(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
                         for k, v in exc.message_dict.items())
    return " ".join(exc.messages)
