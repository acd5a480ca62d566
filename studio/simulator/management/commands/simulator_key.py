"""Issue a key for the built-in simulator, for a provider account added by hand."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from studio.simulator.engine import KEY_PREFIX, issue_key


class Command(BaseCommand):
    help = "Issue a new simulator key and print it (the simulator accepts no other)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prefix",
            default=KEY_PREFIX,
            help="How the key starts; some routes give a prefix a meaning, e.g. sim-nofunds- (an empty wallet).",
        )

    def handle(self, *args, prefix: str, **options):
        if not settings.SIMULATOR_ENABLED:
            raise CommandError("The simulator is turned off here (DAILIES_SIMULATOR).")
        if not prefix.startswith(KEY_PREFIX):
            raise CommandError(f"Simulator keys start with {KEY_PREFIX!r}.")
        self.stdout.write(issue_key(prefix=prefix))
