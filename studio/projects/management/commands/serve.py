"""`make run`: the web server and the django-q2 clusters together, stopped together on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from .bootstrap_demo import how_to_log_in


class Command(BaseCommand):
    help = "Start the web server (gunicorn) and the task clusters; Ctrl-C stops them all."

    def handle(self, *args, **options):
        python = sys.executable
        bind = f"{settings.HOST}:{settings.PORT}"
        web = subprocess.Popen(
            [
                os.path.join(os.path.dirname(python), "gunicorn"),
                "studio.wsgi:application",
                "--bind",
                bind,
                "--workers",
                os.environ.get("WEB_WORKERS", "2"),
                "--threads",
                "8",
                "--worker-class",
                "gthread",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
                # Invitation and image links carry their secret in the path: masked in each line.
                "--logger-class",
                "studio.access_log.AccessLogWithoutTokens",
                # One shared control socket (~/.gunicorn) would let several instances on one
                # machine trample each other's; `serve` stops its server by signal anyway.
                "--no-control-socket",
            ],
            cwd=settings.BASE_DIR,
            start_new_session=True,
        )
        # The three clusters (submits, archives, the tracker) under `manage.py workers`, which restarts
        # any that dies. Each child leads its own process group, so stopping takes its worker processes
        # too (a cluster's workers outlive their parent otherwise).
        workers = start_workers()
        url = f"http://{bind}/"
        self.stdout.write(self.style.SUCCESS(f"\nDailies is running at {url}"))
        self.stdout.write(f"{how_to_log_in()} Press Ctrl-C to stop.\n")

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and web.poll() is None:
                if workers.poll() is not None:
                    self.stderr.write(f"The workers stopped ({workers.returncode}); starting them again.")
                    _signal_group(workers, signal.SIGKILL)
                    workers = start_workers()
                time.sleep(0.3)
        finally:
            children = [web, workers]
            for child in children:
                _signal_group(child, signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                # Whatever is left of the group (a worker mid-task) is stopped now;
                # the database lets another run pick its task up.
                _signal_group(child, signal.SIGKILL)
        failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            self.stderr.write("A process stopped unexpectedly; see the log above.")
            sys.exit(1)
        self.stdout.write("Stopped web server and workers.")


def start_workers() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "workers"],
        cwd=settings.BASE_DIR,
        start_new_session=True,
    )


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass
