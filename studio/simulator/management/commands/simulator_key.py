"""Issue a key for the built-in simulator, for a provider account added by hand."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from studio.simulator.engine import KEY_PREFIX, issue_key
from studio.simulator.service_accounts import issue_key_file

# Where route 6's simulator answers token requests (its package's `simulator.py`, mounted under /simulator/<slug>/).
GOOGLE_CLOUD_TOKEN_PATH = "/simulator/google-cloud/token"


class Command(BaseCommand):
    help = "Issue a new simulator key and print it (the simulator accepts no other)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prefix",
            default=KEY_PREFIX,
            help="How the key starts; some routes give a prefix a meaning, e.g. sim-nofunds- (an empty wallet).",
        )
        parser.add_argument(
            "--google-cloud",
            metavar="PROJECT_ID",
            help="Print a service-account key file (JSON) for the Google Cloud route's simulator instead, "
            "for this project id.",
        )

    def handle(self, *args, prefix: str, google_cloud: str | None, **options):
        if not settings.SIMULATOR_ENABLED:
            raise CommandError("The simulator is turned off here (DAILIES_SIMULATOR).")
        if google_cloud:
            token_uri = settings.SITE_URL + GOOGLE_CLOUD_TOKEN_PATH
            self.stdout.write(issue_key_file(project_id=google_cloud, token_uri=token_uri))
            return
        if not prefix.startswith(KEY_PREFIX):
            raise CommandError(f"Simulator keys start with {KEY_PREFIX!r}.")
        self.stdout.write(issue_key(prefix=prefix))
