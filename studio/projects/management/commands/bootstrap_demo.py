"""First-run setup for the embedded default: a demo login and a sample project on the simulator."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from studio.projects.models import Membership, Project
from studio.projects.team import wire_to_simulator

DEMO_USER = "demo"
DEMO_PASSWORD = "demo"
SAMPLE_PROJECT = "Sample project"


class Command(BaseCommand):
    help = "Create the demo account and a sample project wired to the simulator (once)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=DEMO_USER, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if Project.objects.filter(name=SAMPLE_PROJECT).exists():
            self.stdout.write("Demo account and sample project already exist.")
            return
        project = Project.objects.create(name=SAMPLE_PROJECT, created_by=user)
        wire_to_simulator(project, key="sim-demo-key")
        Membership.objects.create(project=project, user=user, role=Membership.Role.OWNER)
        self.stdout.write(f"Created user {DEMO_USER!r} and {SAMPLE_PROJECT!r} on the simulator.")
