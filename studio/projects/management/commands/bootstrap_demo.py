"""First-run setup for the embedded default: a demo login and a sample project on the simulator.

Only on the embedded default (no DATABASE_URL): a team deployment gets no
account anybody could guess. The demo account is an ordinary user (no admin
rights, no staff) with a generated password that passes the password
validators; the password is kept in `var/demo-password` (readable by this
machine's user only) so that `make run` can show it each time. A real admin is
made with `manage.py createsuperuser`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand
from django.db import transaction

from studio.projects.models import Membership, Project
from studio.projects.team import wire_to_simulator
from studio.simulator.engine import issue_key, key_is_valid

DEMO_USER = "demo"
SAMPLE_PROJECT = "Sample project"
# The password the demo account had before it was generated; an account still using it gets a new one.
OLD_DEMO_PASSWORD = "demo"
MAKE_AN_ADMIN = "For an admin account, run `.venv/bin/python manage.py createsuperuser`."


def password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-password"


def how_to_log_in() -> str:
    """What `make run` prints under its address: the demo login while it still works, else what to do."""
    user = get_user_model().objects.filter(username=DEMO_USER).first()
    if user is None:
        return f"Log in with your own account. {MAKE_AN_ADMIN}"
    try:
        password = password_file().read_text().strip()
    except OSError:
        password = ""
    if password and user.check_password(password):
        return f"Log in as {DEMO_USER!r} with password {password!r}."
    return f"Log in as {DEMO_USER!r} with the password you gave it."


def demo_account() -> dict[str, str] | None:
    """What the login page says on the embedded default: the demo account's name and where its password is.

    Never the password itself: anyone who can reach the server can open the login page, and `HOST` may be
    a LAN address. In a team deployment there is no demo account to name.
    """
    if (
        not settings.EMBEDDED_DEFAULT
        or not get_user_model().objects.filter(username=DEMO_USER, is_active=True).exists()
    ):
        return None
    kept = password_file()
    shown = kept.relative_to(settings.BASE_DIR) if kept.is_relative_to(settings.BASE_DIR) else kept
    return {"username": DEMO_USER, "password_file": str(shown)}


class Command(BaseCommand):
    help = "On the embedded default only: the demo account and a sample project wired to the simulator (once)."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.EMBEDDED_DEFAULT:
            self.stdout.write(
                "No demo account: DATABASE_URL is set, so this is a team deployment, where an account "
                f"anyone could guess has no place. {MAKE_AN_ADMIN}"
            )
            return
        user = self._demo_user()
        if not settings.SIMULATOR_ENABLED:
            self.stdout.write("No sample project: the simulator is turned off (DAILIES_SIMULATOR).")
            return
        sample = Project.objects.filter(name=SAMPLE_PROJECT).first()
        if sample is not None:
            self._renew_simulator_keys(sample)
            self.stdout.write("The sample project already exists.")
            return
        project = Project.objects.create(name=SAMPLE_PROJECT, created_by=user)
        wire_to_simulator(project)
        Membership.objects.create(project=project, user=user, role=Membership.Role.OWNER)
        self.stdout.write(f"Created {SAMPLE_PROJECT!r} on the simulator, owned by {DEMO_USER!r}.")

    def _renew_simulator_keys(self, project: Project) -> None:
        # Made by an earlier version, its account may hold a key the simulator never issued (any
        # "sim-" key once passed) or one sealed with the old built-in secret: issue it a new one.
        # Route 6's accounts hold a key file (or nothing: the machine's credentials), which its token
        # endpoint checks: not a key of this kind.
        accounts = project.provider_accounts.filter(base_url__startswith="/simulator/").exclude(route="google-cloud")
        for account in accounts:
            if not key_is_valid(account.api_key):
                account.set_api_key(issue_key())
                account.save(update_fields=["api_key_encrypted"])
                self.stdout.write(f"Issued a new simulator key to {account.label!r}.")

    def _demo_user(self) -> User:
        user, created = get_user_model().objects.get_or_create(username=DEMO_USER)
        if user.is_superuser or user.is_staff:
            # Made by an earlier version as an admin; an admin whose name everyone knows is not kept.
            user.is_superuser = user.is_staff = False
            user.save(update_fields=["is_superuser", "is_staff"])
            self.stdout.write(f"{DEMO_USER!r} is no longer an admin. {MAKE_AN_ADMIN}")
        if created or user.check_password(OLD_DEMO_PASSWORD):
            password = secrets.token_urlsafe(12)
            validate_password(password, user)
            user.set_password(password)
            user.save(update_fields=["password"])
            _keep(password)
            self.stdout.write(f"Demo account {DEMO_USER!r}, password {password!r} (kept in {password_file()}).")
        return user


def _keep(password: str) -> None:
    path = password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
