"""Demo plant: each app's `demo.py` has a loader; `manage.py demo_load` runs settings.KILN_DEMO_LOADERS in order.

Loaders are idempotent (get_or_create), so `make run` can load the demo on every start. Each returns a short
summary, printed as `demo: <name>: <summary>`, where <name> is the function's name without `load_`.
"""

# The demo accounts (printed by `make run`). Only for the zero-setup demo; never load these in a plant.
DEMO_USERS = [
    ("operator", "operator", "kiln-operator"),
    ("supervisor", "supervisor", "kiln-supervisor"),
    ("engineer", "engineer", "kiln-engineer"),
    ("admin", "admin", "kiln-admin"),
]

