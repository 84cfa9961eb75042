"""Demo plant loaders: each app's `demo.py` registers one; `manage.py demo_load` runs them in order.

Loaders are idempotent (get_or_create), so `make run` can load the demo on every start.
"""

DEMO_LOADERS: list[tuple[int, str, object]] = []

# The demo accounts (printed by `make run`). Only for the zero-setup demo; never load these in a plant.
DEMO_USERS = [
    ("operator", "operator", "kiln-operator"),
    ("supervisor", "supervisor", "kiln-supervisor"),
    ("engineer", "engineer", "kiln-engineer"),
    ("admin", "admin", "kiln-admin"),
]


def register(order: int, name: str):
    def deco(fn):
        DEMO_LOADERS.append((order, name, fn))
        return fn

    return deco
