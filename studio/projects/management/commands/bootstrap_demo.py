"""First-run setup for the embedded default: a demo login and a sample project on the simulator."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from studio.projects.models import Membership, Project
from studio.providers.models import ProviderAccount

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
        project = Project.objects.create(name=SAMPLE_PROJECT)
        account = ProviderAccount(
            project=project,
            label="Simulator",
            route="videos-gateway",
            base_url="/simulator/videos-gateway",
            # The documented minimum (5 s) rather than the usual 10 s: drafts
            # on the simulator finish in seconds.
            poll_interval_s=5.0,
        )
        account.set_api_key("sim-demo-key")
        account.save()
        project.draft_account = account
        project.final_account = account
        project.save()
        Membership.objects.create(project=project, user=user, role=Membership.Role.OWNER)
        self.stdout.write(f"Created user {DEMO_USER!r} and {SAMPLE_PROJECT!r} on the simulator.")
