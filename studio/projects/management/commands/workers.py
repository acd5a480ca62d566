"""`manage.py workers`: the three django-q2 clusters a worker machine runs, each restarted at once if it dies.

One cluster per queue (settings.Q_CLUSTER and its ALT_CLUSTERS): submits, archives and the tracker, so a
backlog in one never delays another. `serve` runs this beside the web server; a worker machine runs it alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def cluster_names() -> list[str]:
    return [settings.QUEUE_NAME, settings.ARCHIVE_CLUSTER, settings.TRACKER_CLUSTER]


def start_cluster(name: str) -> subprocess.Popen:
    """`manage.py qcluster` for the cluster `name`, in this process's group (stopping the group stops it)."""
    return subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "Q_CLUSTER_NAME": name},
    )


class Command(BaseCommand):
    help = "Run the submit, archive and tracker clusters; any that stops is started again at once."

    def handle(self, *args, **options):
        clusters = {name: start_cluster(name) for name in cluster_names()}
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, cluster in clusters.items():
                    if cluster.poll() is not None:
                        # Killed or out of memory: the database lets the new one pick up what it held.
                        self.stderr.write(f"The {name} cluster stopped ({cluster.returncode}); starting it again.")
                        clusters[name] = start_cluster(name)
                time.sleep(0.3)
        finally:
            for cluster in clusters.values():
                if cluster.poll() is None:
                    cluster.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for cluster in clusters.values():
                try:
                    cluster.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    cluster.kill()
            if os.getpgrp() == os.getpid():
                # Leading a group of its own (as `serve` starts it): a worker still busy (a tracking
                # run) goes with it; the database lets the next start pick its tasks up.
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                os.killpg(os.getpgrp(), signal.SIGTERM)
