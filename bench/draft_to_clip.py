"""Seconds from the Draft click to a playable clip, what of that Dailies added, and provider requests per task.

Drives a running instance (`make run`) the way a browser does: logs in, posts
the Draft form, polls the task card as HTMX would, then fetches the first bytes
of the clip; then promotes the draft and times the final the same way. The added
latency is click → playable minus the provider's own render time (the
simulator's `render_seconds` for that job): what sending, polling at the
route's cadence, archiving and the card's own refresh cost on top.

    .venv/bin/python bench/draft_to_clip.py [--url http://127.0.0.1:8000] [--runs 3]

Provider requests per task are read from the database the instance uses, so run
it with the same environment (DATABASE_URL etc.) as the server.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")


def found(pattern: str, text: str, *, what: str) -> str:
    """The first group of `pattern` in `text`; stops the bench, naming what is missing, when the page lacks it."""
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"No {what} on the page (looked for {pattern!r}): is this the Dailies the bench expects?")
    return match.group(1)


def csrf(html: str) -> str:
    return found(r'name="csrfmiddlewaretoken" value="([^"]+)"', html, what="CSRF token")


def new_task_id(html: str, *, action: str) -> int:
    """The id of the card the answer to `action` adds out of band (its first hx-swap-oob part)."""
    parts = html.split("hx-swap-oob")
    if len(parts) < 2:
        raise SystemExit(f"The answer to {action} has no new card (no hx-swap-oob part).")
    return int(found(r'id="task-(\d+)"', parts[1], what=f"new task card after {action}"))


def demo_password() -> str:
    """The demo account's generated password, as `make run` kept it (var/demo-password, or under DAILIES_VAR_DIR)."""
    kept = Path(os.environ.get("DAILIES_VAR_DIR", Path(__file__).resolve().parents[1] / "var")) / "demo-password"
    if not kept.exists():
        raise SystemExit(f"No {kept}: start `make run` once, which creates the demo account.")
    return kept.read_text().strip()


def login(client: httpx.Client, user: str, password: str) -> None:
    page = client.get("/login/")
    answer = client.post(
        "/login/", data={"username": user, "password": password, "csrfmiddlewaretoken": csrf(page.text)}
    )
    if "/login/" in str(answer.url):
        raise SystemExit("Login failed: is the demo account there (make run creates it)?")


def wait_for_clip(client: httpx.Client, task_id: int, *, started: float, timeout: float = 180) -> float:
    """Poll the card like the page does (every second) until it shows a playable clip."""
    while time.monotonic() - started < timeout:
        card = client.get(f"/tasks/{task_id}/card", headers={"HX-Request": "true"}).text
        state = found(r'data-state="(\w+)"', card, what=f"state on task {task_id}'s card")
        if state == "done":
            clip = found(r'src="/clips/(\d+)/video"', card, what=f"video on task {task_id}'s card")
            first = client.get(f"/clips/{clip}/video", headers={"Range": "bytes=0-1023"})
            assert first.status_code == 206, first.status_code
            return time.monotonic() - started
        if state in {"failed", "blocked", "uncertain"}:
            raise SystemExit(f"Task {task_id} ended {state}")
        time.sleep(1.0)
    raise SystemExit(f"Task {task_id} not done after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("DAILIES_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--project", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from studio.simulator.models import SimulatedJob
    from studio.tasks.models import Task

    def added(task_id: int, seconds: float) -> tuple[float, float]:
        """(seconds beyond the provider's own render time, the task's poll interval)."""
        task = Task.objects.select_related("account").get(pk=task_id)
        job = SimulatedJob.objects.filter(pk=task.provider_task_id).first()
        route = task.account.provider
        wanted = task.account.poll_interval_s or route.poll_delay(model=task.model, elapsed_s=0, account=task.account)
        return seconds - (job.render_seconds if job else 0.0), max(route.min_poll_interval_s, wanted)

    drafts, finals, requests, extra, intervals = [], [], [], [], []
    with httpx.Client(base_url=args.url, follow_redirects=True, timeout=30) as client:
        login(client, "demo", demo_password())
        for run in range(args.runs):
            page = client.get(f"/projects/{args.project}/").text
            token_match = re.search(r'name="form_token"[^>]*value="([^"]+)"', page) or re.search(
                r'value="([^"]+)"[^>]*name="form_token"', page
            )
            if token_match is None:
                raise SystemExit(f"No form token in the editor of project {args.project}: is the project there?")
            token = token_match.group(1)
            started = time.monotonic()
            answer = client.post(
                f"/projects/{args.project}/draft",
                headers={"HX-Request": "true", "X-CSRFToken": csrf(page)},
                data={
                    "prompt": f"Bench run {run}: tide coming in over black sand, slow pan",
                    "negative_prompt": "",
                    "tier": "fast",
                    "aspect_ratio": "16:9",
                    "duration_s": "4",
                    "resolution": "720p",
                    "variations": "1",
                    "seed": "",
                    "form_token": token,
                },
            )
            draft_id = new_task_id(answer.text, action="Draft")
            drafts.append(wait_for_clip(client, draft_id, started=started))

            started = time.monotonic()
            answer = client.post(
                f"/tasks/{draft_id}/promote", headers={"HX-Request": "true", "X-CSRFToken": csrf(page)}
            )
            final_id = new_task_id(answer.text, action="Promote")
            finals.append(wait_for_clip(client, final_id, started=started))
            for task_id, seconds in ((draft_id, drafts[-1]), (final_id, finals[-1])):
                requests.append(Task.objects.get(pk=task_id).provider_requests)
                beyond, interval = added(task_id, seconds)
                extra.append(beyond)
                intervals.append(interval)
            print(
                f"run {run + 1}: draft {drafts[-1]:.1f} s (added {extra[-2]:.1f} s), "
                f"final {finals[-1]:.1f} s (added {extra[-1]:.1f} s), provider requests {requests[-2]} + {requests[-1]}"
            )

    print(
        f"\nDraft click → playable clip: median {statistics.median(drafts):.1f} s "
        f"(min {min(drafts):.1f}, max {max(drafts):.1f}) over {len(drafts)} runs"
    )
    print(
        f"Promote click → playable final: median {statistics.median(finals):.1f} s "
        f"(min {min(finals):.1f}, max {max(finals):.1f})"
    )
    print(
        f"Added latency (click → playable minus the provider's render time): median {statistics.median(extra):.1f} s "
        f"(min {min(extra):.1f}, max {max(extra):.1f}) over {len(extra)} tasks; the poll interval was "
        f"{statistics.median(intervals):.0f} s, so the target is ≤ {2 + statistics.median(intervals):.0f} s"
    )
    print(
        f"Provider requests per task: median {statistics.median(requests):g} "
        f"(min {min(requests)}, max {max(requests)}) — submit + polls + download"
    )


if __name__ == "__main__":
    main()
