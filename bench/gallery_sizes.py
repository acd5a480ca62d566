"""What the gallery and the project page cost at 100, 1,000 and 10,000 done clips in one project.

Runs in-process on a scratch embedded database (its own folder, deleted
afterwards): bulk-creates done clips, then times 20 requests each to the
gallery's first page, a later page (reached through the "More clips" links)
and the project page, and prints query count, HTML bytes and server time p50.

    .venv/bin/python bench/gallery_sizes.py [--sizes 100,1000,10000] [--requests 20]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SCRATCH = Path(tempfile.mkdtemp(prefix="dailies-bench-"))
os.environ["DAILIES_VAR_DIR"] = str(SCRATCH)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

import django  # noqa: E402  (settings read the scratch folder above first)

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from studio.clips.models import Clip  # noqa: E402
from studio.projects.team import create_project  # noqa: E402
from studio.prompts.models import Prompt  # noqa: E402
from studio.tasks.models import Task  # noqa: E402

PARAMETERS = {"duration_s": 4, "aspect_ratio": "16:9", "resolution": "720p", "audio": False}


def add_clips(project, user, count: int) -> None:
    """`count` more done drafts with clips, in batches, as the worker would have left them."""
    prompt = Prompt.objects.create(project=project, title="Bench")
    version = prompt.record_version(text="A lighthouse at dusk, waves below", negative_prompt="", author=user)
    for start in range(0, count, 1000):
        tasks = Task.objects.bulk_create(
            Task(
                project=project,
                prompt_version=version,
                account=project.draft_account,
                created_by=user,
                route="videos-gateway",
                model="veo-3.1-fast-generate-preview",
                kind="draft",
                tier="fast",
                seed=start + n,
                state=Task.State.DONE,
                parameters=PARAMETERS,
            )
            for n in range(min(1000, count - start))
        )
        Clip.objects.bulk_create(
            Clip(
                task=task,
                file=f"clips/{task.pk}.mp4",
                poster=f"posters/{task.pk}.jpg",
                duration_s=4,
                width=1280,
                height=720,
                has_audio=False,
                bytes=1,
                sha256="0" * 64,
            )
            for task in tasks
        )


def measure(client: Client, url: str, requests: int) -> tuple[int, int, float]:
    """(queries, HTML bytes, p50 milliseconds) over `requests` requests."""
    client.get(url)  # warm: templates compiled, session loaded
    times, queries, size = [], 0, 0
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            answer = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code)
        queries, size = len(captured), len(answer.content)
    return queries, size, statistics.median(times)


def later_page(client: Client, gallery: str, hops: int = 3) -> str:
    url = gallery
    for _ in range(hops):
        found = re.search(r'class="button gallery-more" href="([^"]+)"', client.get(url).content.decode())
        if not found:
            break
        url = gallery + found.group(1).replace("&amp;", "&")
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    setup_test_environment()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench", password="bench")
    project = create_project(name="Bench", owner=user)
    client = Client()
    client.force_login(user)
    gallery, studio = f"/projects/{project.pk}/gallery", f"/projects/{project.pk}/"

    print(f"{'clips':>6} | {'page':<16} | {'queries':>7} | {'HTML bytes':>10} | {'p50 ms':>7}")
    print("-" * 60)
    made = 0
    try:
        for size in sizes:
            add_clips(project, user, size - made)
            made = size
            for label, url in (
                ("gallery, first", gallery),
                ("gallery, later", later_page(client, gallery)),
                ("project page", studio),
            ):
                queries, size_bytes, p50 = measure(client, url, args.requests)
                print(f"{size:>6} | {label:<16} | {queries:>7} | {size_bytes:>10} | {p50:>7.1f}")
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
