"""Requests per second that one open page with many live cards makes, and what an unchanged refresh costs.

Drives a running instance (`make run`): logs in as the demo user, drafts
`--cards` tasks that never finish on the simulator (the `#never` marker keeps
them live), opens the project page in Debian's Chromium and counts, for
`--seconds`, every request the page makes and the bytes of each refresh.

    .venv/bin/python bench/live_page.py [--url http://127.0.0.1:8000] [--cards 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from draft_to_clip import csrf, demo_password, login  # the bench's own helpers, beside this file

CHROMIUM = "/usr/bin/chromium"
VARIATIONS = 8


def draft_live_cards(client: httpx.Client, project: int, count: int) -> None:
    """`count` drafts, 8 per click as variations, each on the simulator's never-ending job."""
    made = 0
    while made < count:
        batch = min(VARIATIONS, count - made)
        page = client.get(f"/projects/{project}/")
        answer = client.post(
            f"/projects/{project}/draft",
            data={
                "csrfmiddlewaretoken": csrf(page.text),
                "prompt": f"A lighthouse beam sweeping fog, bench card set {made} #never",
                "tier": "fast",
                "aspect_ratio": "16:9",
                "duration_s": "4",
                "resolution": "720p",
                "variations": str(batch),
            },
        )
        if answer.status_code not in (200, 302):
            raise SystemExit(f"Drafting failed with HTTP {answer.status_code}: {answer.text[:300]}")
        made += batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("DAILIES_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--project", type=int, default=1)
    parser.add_argument("--cards", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with httpx.Client(base_url=args.url, follow_redirects=True, timeout=30) as client:
        login(client, "demo", demo_password())
        draft_live_cards(client, args.project, args.cards)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_context(base_url=args.url).new_page()
        page.goto("/login/")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", demo_password())
        page.click("button:has-text('Log in')")
        page.wait_for_url(lambda url: "/login/" not in url)
        page.goto(f"/projects/{args.project}/")
        live = page.locator("input.live-card").count()
        requests: list[str] = []
        refreshes: list[tuple[int, int]] = []
        page.on("request", lambda request: requests.append(request.url))

        def measure(response) -> None:
            if "/live" in response.url:
                refreshes.append((response.status, len(response.body())))

        page.on("response", measure)
        page.wait_for_timeout(args.seconds * 1000)
        browser.close()

    unchanged = [size for status, size in refreshes if status == 204]
    print(f"page: project {args.project}, {live} live cards followed")
    print(f"requests to the server over {args.seconds:g} s: {len(requests)} ({len(requests) / args.seconds:.2f}/s)")
    print(f"refreshes: {len(refreshes)}, of which unchanged (204): {len(unchanged)}")
    if unchanged:
        print(f"bytes of an unchanged refresh: {statistics.median(unchanged):.0f} (max {max(unchanged)})")
    changed = [size for status, size in refreshes if status == 200]
    if changed:
        print(f"bytes of a refresh with changed cards: median {statistics.median(changed):.0f}")


if __name__ == "__main__":
    main()
