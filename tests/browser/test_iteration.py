"""Iterating in a real browser: edit and diff a prompt, variations and grids that fill live,
promoting a grid cell to a final and comparing the two, and the tier switch in the editor.

No django-q2 cluster runs here: a worker thread does what the cluster would (submit, track,
archive; the simulator's renders run on threads of their own) while the browser watches the
cards move on their own.
"""

from __future__ import annotations

import re
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.db import connection
from playwright.sync_api import expect

from studio.tasks import lifecycle, tracker
from studio.tasks.models import Batch, Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The project polls its route every 5 s (route 4's minimum), so a draft is done after one
# poll; the rest is submitting, archiving and the cards' own 1–2 s polls.
RENDERED = 30_000
NO_RELOAD = "window.dailiesSamePage"


class BackgroundWorker:
    """The cluster's work in one thread: send pending tasks, follow them, archive their clips."""

    def __init__(self, queue) -> None:
        self.queue = queue  # stands in for django-q2's: runs each job at once
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, name="test-worker", daemon=True)

    def _run(self) -> None:
        try:
            with ThreadPoolExecutor(4) as pool, lifecycle.http_client() as http:
                while not self.stopping.is_set():
                    try:
                        pending = Task.objects.filter(state=Task.State.PENDING)
                        for task_id in list(pending.values_list("pk", flat=True)):
                            lifecycle.submit(task_id)
                        tracker.step(pool=pool, http=http, enqueue=self.queue)
                    except Exception:  # the fixture reports it; a thread would lose it
                        self.errors.append(traceback.format_exc())
                    self.stopping.wait(0.2)
        finally:
            connection.close()


@pytest.fixture
def worker(clips, inline_queue, simulator_workers):
    """A worker running beside the test; stopped before the test's database is emptied."""
    background = BackgroundWorker(inline_queue)
    background.thread.start()
    yield background
    background.stopping.set()
    background.thread.join(timeout=15)
    assert not background.thread.is_alive(), "the worker thread did not stop"
    assert not background.errors, "the worker failed:\n" + "\n".join(background.errors)


@contextmanager
def swapped(page, selector: str):
    """Wait, after the block, until HTMX has replaced the element at `selector` with a new one."""
    page.locator(selector).evaluate("element => element.setAttribute('data-replaced-soon', '')")
    yield
    page.wait_for_selector(f"{selector}:not([data-replaced-soon])")


def mark_page(page) -> None:
    """Leave a mark on this page load: it survives HTMX swaps and disappears on a reload."""
    page.evaluate(f"{NO_RELOAD} = true")


def still_same_page(page) -> bool:
    return page.evaluate(f"{NO_RELOAD} === true")


def open_project(page, clips) -> None:
    page.goto(f"/projects/{clips.project_id}/")
    # The editor's quote loads itself once the page is up; wait for it so no request is in flight.
    expect(page.locator("#draft-quote")).to_contain_text("Quote")


def draft(page, prompt: str) -> None:
    """Type `prompt` into the editor and press Draft; return once the fresh editor is in."""
    page.fill("#id_prompt", prompt)
    with swapped(page, "#draft-panel"):
        page.click("#draft-panel button[type=submit]")


def test_editing_three_words_shows_them_in_the_history_diff(owner_page, clips, shoot):
    page = owner_page
    open_project(page, clips)
    mark_page(page)
    # The project's prompt already has v1 and v2 (the module's clips).
    draft(page, "A red kite over green hills at noon, slow pan left")
    expect(page.locator("#draft-panel .version-chip")).to_have_text("v3")
    assert page.input_value("#id_prompt") == "A red kite over green hills at noon, slow pan left"
    draft(page, "A blue kite over green hills at dusk, slow pan right")
    expect(page.locator("#draft-panel .version-chip")).to_have_text("v4")
    expect(page.locator("#task-list > article.task-card")).to_have_count(5)
    assert still_same_page(page)
    shoot("editor")

    page.locator("#draft-panel header").get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(r"/prompts/\d+/history$"))
    diff = page.locator("#version-diff")
    expect(diff.locator(".diff-summary")).to_contain_text("From v3")
    expect(diff.locator(".diff-summary")).to_contain_text("+3 words")
    expect(diff.locator(".diff-summary")).to_contain_text("−3 words")
    prompt_diff = diff.locator("p.diff-text:not(.negative)")
    removed = [text.strip() for text in prompt_diff.locator("del").all_text_contents()]
    added = [text.strip() for text in prompt_diff.locator("ins").all_text_contents()]
    assert (removed, added) == (["red", "noon,", "left"], ["blue", "dusk,", "right"])


def test_variations_fill_their_group_live(owner_page, clips, worker, shoot):
    page = owner_page
    open_project(page, clips)
    page.fill("#id_prompt", "A paper boat on a rain puddle, low angle, soft light")
    # Variations sit in the editor's folded "Seed and variations" section.
    page.click("#draft-panel details[data-section=seed] > summary")
    page.fill("#id_variations", "3")
    page.press("#id_variations", "Tab")  # the quote follows the form's change event
    expect(page.locator("#draft-quote")).to_contain_text("3 ×")
    expect(page.locator("#draft-quote")).to_contain_text(re.compile(r"3 × \$[\d.]+ = \$[\d.]+"))
    mark_page(page)

    with swapped(page, "#draft-panel"):
        page.click("#draft-panel button[type=submit]")
    expect(page.locator("#task-list > :first-child")).to_have_class(re.compile(r"\bbatch-group\b"))
    group = page.locator("#task-list > section.batch-group").first
    cards = group.locator("article.task-card")
    expect(cards).to_have_count(3)
    expect(group.locator(":scope > header")).to_contain_text("3 drafts")
    shoot("sent")

    done = group.locator('article.task-card[data-state="done"] video')
    expect(done).to_have_count(3, timeout=RENDERED)
    expect(cards).to_have_count(3)
    assert still_same_page(page), "the page reloaded; the cards should have filled in by themselves"
    shoot("done")

    batch = Batch.objects.get()
    group.get_by_role("link", name="Open as grid").click()
    page.wait_for_url(re.compile(rf"/batches/{batch.pk}/$"))
    expect(page.locator(".grid-cell")).to_have_count(3)
    expect(page.locator('.grid-cell article.task-card[data-state="done"] video')).to_have_count(3)


def test_a_grid_is_quoted_before_sending_and_fills_live(owner_page, clips, worker, shoot):
    page = owner_page
    open_project(page, clips)
    page.get_by_role("link", name="New grid").click()
    page.wait_for_url(re.compile(rf"/projects/{clips.project_id}/grids/new$"))
    page.select_option("#id_columns", "seed")
    page.fill("#id_column_values", "11, 22")
    page.select_option("#id_rows", "aspect_ratio")
    page.fill("#id_row_values", "16:9, 9:16")  # the quote follows typing, after a short pause
    quote = page.locator("#grid-quote")
    expect(quote).to_contain_text("4 cells")
    expect(quote).to_contain_text(re.compile(r"quoted total \$[\d.]+"))
    assert not Task.objects.filter(batch__isnull=False).exists(), "a quote must not send anything"
    shoot("quote")

    page.get_by_role("button", name="Draft the grid").click()
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    mark_page(page)
    expect(page.locator(".grid-head:not(.row-head)")).to_have_text(["seed 11", "seed 22"])
    expect(page.locator(".grid-head.row-head")).to_have_text(["16:9", "9:16"])
    expect(page.locator(".grid-cell article.task-card")).to_have_count(4)
    done = page.locator('.grid-cell article.task-card[data-state="done"] video')
    expect(done).to_have_count(4, timeout=RENDERED)
    assert still_same_page(page), "the grid page reloaded; its cells should have filled in by themselves"
    cells = sorted((task.seed, task.aspect_ratio) for task in Task.objects.filter(batch__isnull=False))
    assert cells == [(11, "16:9"), (11, "9:16"), (22, "16:9"), (22, "9:16")]


def test_tabbing_to_the_submit_button_while_a_quote_is_on_its_way_keeps_the_quote(owner_page, clips):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/grids/new")
    page.fill("#id_column_values", "11, 22")
    # A slow network: the quote for choosing the rows axis is still on its way...
    held = []

    def slow_network(route):
        if held is not None:
            held.append(route)
        else:
            route.continue_()

    page.route("**/grids/quote?*", slow_network)
    with page.expect_request("**/grids/quote?*"):
        page.select_option("#id_rows", "aspect_ratio")
    # ...while the user types the last values and tabs on to the button, to press Enter.
    page.fill("#id_row_values", "16:9, 9:16")
    page.press("#id_row_values", "Tab")
    expect(page.get_by_role("button", name="Draft the grid")).to_be_focused()
    arriving, held = held, None
    for route in arriving:
        route.continue_()
    # The quote for the typed values was queued behind the held one and follows it.
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").count() == 1, "a second page is nested inside the form"
    assert "4 cells" in page.inner_text("#grid-quote")


def test_promoting_a_grid_cell_links_its_final_and_the_compare(owner_page, clips, worker, shoot, client_for):
    page = owner_page
    grid = {
        "version": clips.draft.task.prompt_version_id,
        "tier": "fast",
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "duration_s": "8",
        "seed": "",
        "columns": "seed",
        "column_values": "11, 22",
        "rows": "",
        "row_values": "",
        "form_token": "promote-a-cell",
    }
    answer = client_for(clips.draft.task.created_by).post(f"/projects/{clips.project_id}/grids/new", grid)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    page.goto(answer["Location"])
    done = page.locator('.grid-cell article.task-card[data-state="done"] video')
    expect(done).to_have_count(2, timeout=RENDERED)
    mark_page(page)

    draft_id = int(page.locator(".grid-cell article.task-card").first.get_attribute("data-task"))
    card = page.locator(f"#task-{draft_id}")
    card.get_by_role("button", name="Promote").click()
    expect(card.locator(".final-link")).to_have_text(re.compile(r"Final #\d+: \S"))
    final = Task.objects.get(promoted_from_id=draft_id)
    expect(card.locator(".final-link")).to_contain_text(f"Final #{final.pk}: ")
    # The draft's card stays followed by the page's refresh while its final renders, then is not.
    followed = card.locator('input[form="live-cards"]')
    expect(followed).to_have_count(1)
    shoot("rendering")
    compare = card.get_by_role("link", name="Compare")
    expect(compare).to_be_visible(timeout=RENDERED)
    expect(card.locator(".final-link")).to_have_text(f"Final #{final.pk}: done")
    expect(followed).to_have_count(0)
    assert still_same_page(page)
    # Only the promoted cell changed; its neighbour offers Promote still.
    expect(page.locator(".grid-cell").get_by_role("button", name="Promote")).to_have_count(1)
    shoot("final-done")

    final.refresh_from_db()
    draft_clip, final_clip = Task.objects.get(pk=draft_id).clip, final.clip
    compare.click()
    page.wait_for_url(re.compile(rf"/projects/{clips.project_id}/compare\?a={draft_clip.pk}&b={final_clip.pk}$"))
    videos = page.locator(".compare-stage video")
    expect(videos).to_have_count(2)
    expect(videos.nth(0)).to_have_attribute("src", f"/clips/{draft_clip.pk}/video")
    expect(videos.nth(1)).to_have_attribute("src", f"/clips/{final_clip.pk}/video")
    expect(page.locator(".side-bar").nth(0)).to_contain_text(f"Draft #{draft_id}")
    expect(page.locator(".side-bar").nth(1)).to_contain_text(f"Final #{final.pk}")
    # Both clips really load in the browser.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.compare-stage video')].every(video => video.readyState >= 2)"
    )


def test_choosing_a_tier_offers_only_its_options_and_keeps_the_words(owner_page, clips):
    page = owner_page
    open_project(page, clips)
    resolutions = page.locator("#id_resolution option")
    expect(page.locator("#id_tier")).to_have_value("fast")
    expect(resolutions).to_have_text(["720p", "1080p", "4k"])
    typed = "A fox crossing a snowy road at night, headlights, slow dolly"
    page.fill("#id_prompt", typed)

    with swapped(page, "#draft-panel"):
        page.select_option("#id_tier", "lite")
    expect(page.locator("#id_tier")).to_have_value("lite")
    expect(resolutions).to_have_text(["720p", "1080p"])
    assert page.input_value("#id_prompt") == typed
    expect(page.locator("#draft-quote")).to_contain_text("Quote")

    with swapped(page, "#draft-panel"):
        page.select_option("#id_tier", "fast")
    expect(resolutions).to_have_text(["720p", "1080p", "4k"])
    assert page.input_value("#id_prompt") == typed
