"""The shape of Kiln's code, proved from its source with the ast module (issue 12's evidence).

- `scada` (the ground floor) imports no app except in its composition root: scada/asgi.py and scada/urls.py
  (settings name apps as dotted strings, which are not imports);
- the app-level import graph has no cycle, and no app imports another app's private (`_`-prefixed) modules or
  names;
- `tags` stays under 4,000 lines of non-test, non-migration Python;
- no app names another app's Redis keys (each app's key prefixes are its own), imports another app's key
  constants (`*_KEY`), or names another app's tables by string: it calls the owner's public functions instead;
- no module (tests included) is longer than MODULE_MAX_LINES, but for the exceptions listed in LONG_MODULES.

Application code only: tests, migrations and bench/ are left out. Imports inside functions count too.
"""

import ast
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.apps import apps as django_apps

REPO = Path(__file__).resolve().parents[1]
APPS = sorted({p.parent.name for p in REPO.glob("*/apps.py")} | {"scada"})
COMPOSITION_ROOT = {"scada/asgi.py", "scada/urls.py"}
TAGS_MAX_LINES = 4000
MODULE_MAX_LINES = 550  # "modules under ~500 lines": past this a module mixes concerns; split it along its seams
# Modules allowed past MODULE_MAX_LINES for now, each with the reason. Remove a line when its module is split
# (the test fails on a stale line, so the list stays the truth).
LONG_MODULES: dict[str, str] = {}  # none left

# Each app's Redis key prefixes. A new key family must be added here, under the app that owns it.
REDIS_PREFIXES = {
    "accounts": ("kiln:revoked:", "kiln:revocations:", "kiln:apikey:"),
    "alarms": ("kiln:{alarms}:", "kiln:alarms:"),
    "devices": ("kiln:lock:devicecmd:",),
    "drivers": ("kiln:drv:",),
    "historian": ("kiln:hist:",),
    "live": ("kiln:ws:",),
    "scada": ("kiln:rl:",),
    "tags": ("kiln:live", "kiln:tags:", "kiln:lock:tagwrite:"),
}


def app_files(app: str):
    for path in sorted((REPO / app).rglob("*.py")):
        parts = path.relative_to(REPO / app).parts
        if "tests" in parts or "migrations" in parts:
            continue
        yield path


# CPython 3.11.7's ast.parse can raise "SystemError: AST constructor recursion depth mismatch" in a thread whose
# recursion bookkeeping earlier tests (hypothesis, deep-nesting fuzz) have moved; a thread of its own parses cleanly.
_PARSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-graph-ast")


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    return _PARSER.submit(ast.parse, source, filename).result()


def parsed(app: str):
    for path in app_files(app):
        yield path.relative_to(REPO).as_posix(), parse(path.read_text(), filename=str(path))


def imports(tree):
    """(module, imported names) for every absolute import in the tree, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, tuple(alias.name for alias in node.names)


def string_constants(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def app_graph():
    """app → the apps its code imports; the composition root plugs apps into scada and is not scada's floor."""
    graph = defaultdict(set)
    for app in APPS:
        for name, tree in parsed(app):
            if name in COMPOSITION_ROOT:
                continue
            for module, _names in imports(tree):
                top = module.split(".")[0]
                if top in APPS and top != app:
                    graph[app].add(top)
    return graph


def test_the_app_list_is_found():
    # A guard for the tests below: they walk these apps, so an empty or partial list would prove nothing.
    assert {"scada", "accounts", "tags", "devices", "live", "drivers", "historian", "alarms", "hmi"} <= set(APPS)


def test_scada_imports_no_app_outside_its_composition_root():
    offending = []
    for name, tree in parsed("scada"):
        if name in COMPOSITION_ROOT:
            continue
        offending += [f"{name}: {module}" for module, _ in imports(tree) if module.split(".")[0] in APPS
                      and module.split(".")[0] != "scada"]
    assert offending == []


def test_the_composition_root_is_where_scada_meets_the_apps():
    # The exemption above is not dead: asgi.py really is where the WebSocket side is plugged in.
    tree = parse((REPO / "scada/asgi.py").read_text())
    assert {m.split(".")[0] for m, _ in imports(tree)} & (set(APPS) - {"scada"})


def test_the_app_import_graph_has_no_cycle():
    graph = app_graph()
    visiting, done, cycles = set(), set(), []

    def visit(app, path):
        if app in visiting:
            cycles.append(path[path.index(app):] + [app])
            return
        if app in done:
            return
        visiting.add(app)
        for dep in sorted(graph[app]):
            visit(dep, path + [app])
        visiting.discard(app)
        done.add(app)

    for app in APPS:
        visit(app, [])
    assert cycles == []
    assert graph["tags"] <= {"scada", "accounts"}  # the domain's floor: it imports no consumer of its values


def test_no_app_imports_another_apps_private_modules_or_names():
    offending = []
    for app in APPS:
        for name, tree in parsed(app):
            for module, names in imports(tree):
                parts = module.split(".")
                if parts[0] not in APPS or parts[0] == app:
                    continue
                private = [p for p in parts[1:] if p.startswith("_") and p != "__init__"]
                private += [n for n in names if n.startswith("_")]
                if private:
                    offending.append(f"{name}: {module} {private}")
    assert offending == []


def test_tags_is_under_4000_lines():
    lines = sum(len(path.read_text().splitlines()) for path in app_files("tags"))
    assert lines < TAGS_MAX_LINES, f"tags has {lines} lines of application code"


def test_no_module_is_longer_than_the_limit():
    lengths = {}
    for app in APPS:
        for path in sorted((REPO / app).rglob("*.py")):
            if "migrations" not in path.relative_to(REPO / app).parts:
                lengths[path.relative_to(REPO).as_posix()] = len(path.read_text().splitlines())
    assert "tags/models.py" in lengths  # the walk found the apps' modules
    too_long = {name: n for name, n in lengths.items() if n > MODULE_MAX_LINES and name not in LONG_MODULES}
    assert too_long == {}, f"split these along their seams (or list them in LONG_MODULES, with why): {too_long}"
    stale = [name for name in LONG_MODULES if lengths.get(name, 0) <= MODULE_MAX_LINES]
    assert stale == [], f"these are short enough now: remove them from LONG_MODULES: {stale}"


def test_no_app_imports_another_apps_redis_key_constants():
    # The owner publishes a function (tags.selectors.tag_config_version, ...), not its key: a reader of the key
    # would miss the owner's rules (a version token that is set afresh after a Redis restart, say).
    offending = []
    for app in APPS:
        for name, tree in parsed(app):
            for module, names in imports(tree):
                top = module.split(".")[0]
                if top in APPS and top != app:
                    offending += [f"{name}: {module}.{n}" for n in names if n.endswith("_KEY")]
    assert offending == []


def test_every_redis_key_prefix_has_one_owner():
    owners = [(p, app) for app, prefixes in REDIS_PREFIXES.items() for p in prefixes]
    for prefix, app in owners:
        for other, other_app in owners:
            if other_app != app:
                assert not prefix.startswith(other), f"{app}'s {prefix!r} falls under {other_app}'s {other!r}"


@pytest.mark.parametrize("app", sorted(REDIS_PREFIXES))
def test_no_app_names_another_apps_redis_keys(app):
    foreign = {p: owner for owner, prefixes in REDIS_PREFIXES.items() if owner != app for p in prefixes}
    offending, undeclared, own = [], [], 0
    for name, tree in parsed(app):
        for text in string_constants(tree):
            if not text.startswith("kiln:") or text == "kiln:" or "*" in text:
                continue  # f-string heads like f"kiln:{db}:" and flush patterns name no key family
            owner = next((o for p, o in foreign.items() if text.startswith(p)), None)
            if owner:
                offending.append(f"{name}: {text!r} is {owner}'s")
            elif text.startswith(REDIS_PREFIXES[app]):
                own += 1
            else:
                undeclared.append(f"{name}: {text!r}")
    assert offending == []
    assert undeclared == [], "declare the prefix under its owner in REDIS_PREFIXES"
    assert own, f"{app} declares prefixes it never uses"


def test_no_app_names_another_apps_tables():
    tables = {model._meta.db_table: model._meta.app_label for model in django_apps.get_models()
              if model._meta.app_label in APPS}
    assert "tags_tag" in tables  # the walk below looks for real table names
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, tables), key=len, reverse=True)) + r")\b")
    offending = []
    for app in APPS:
        for name, tree in parsed(app):
            for text in string_constants(tree):
                offending += [f"{name}: {t}" for t in pattern.findall(text) if tables[t] != app]
    assert offending == []
