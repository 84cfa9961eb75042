"""manage.py create_user USERNAME --role ROLE [--password-env VAR]; otherwise the password is read from stdin."""

import argparse
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import User
from scada.errors import KilnError
from scada.roles import ROLE_NAMES, Role


def _role(value: str) -> int:
    try:
        return int(Role.from_name(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc))


class Command(BaseCommand):
    help = "Create a Kiln user with a role. The password comes from stdin or from an environment variable."
    stealth_options = ("stdin",)  # call_command(..., stdin=io.StringIO(...)) in tests and scripts

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, type=_role, metavar="|".join(ROLE_NAMES),
                            help="operator, supervisor, engineer or admin (any letter case)")
        parser.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
        parser.add_argument("--email", default="")
        parser.add_argument("--integration", action="store_true", help="an account for an external system")
        parser.add_argument("--update", action="store_true", help="set role and password if the user exists")

    def handle(self, *args, username, role, password_env, email, integration, update, **options):
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"Environment variable {password_env} is empty or not set")
        else:
            stdin = options.get("stdin") or sys.stdin
            if stdin.isatty():
                import getpass

                password = getpass.getpass("Password: ")
            else:
                password = stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("No password given on stdin")
        # call_command(role="admin") hands the raw keyword to handle() after the parser has checked it.
        role_value = role if isinstance(role, int) else _role(role)
        existing = User.objects.filter(username=username).first()
        try:
            if existing and update:
                services.user_update(actor=None, user=existing, data={"role": role_value, "password": password,
                                                                      "is_active": True})
                self.stdout.write(f"Updated user {username} ({Role(role_value).label})")
                return
            services.user_create(actor=None, username=username, password=password, role=role_value, email=email,
                                 is_integration=integration)
        except KilnError as exc:
            raise CommandError(exc.detail)
        self.stdout.write(f"Created user {username} ({Role(role_value).label})")
