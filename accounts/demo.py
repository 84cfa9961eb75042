"""Demo accounts, one per role."""

from accounts.models import User
from scada.demo import DEMO_USERS
from scada.roles import Role


def load_users():
    created = 0
    for username, role, password in DEMO_USERS:
        user, was_created = User.objects.get_or_create(username=username, defaults={"role": int(Role.from_name(role))})
        if was_created:
            user.set_password(password)
            user.save()
            created += 1
    return f"{created} created, {len(DEMO_USERS) - created} existing"
