"""Google Cloud's own powers in a browser: a finished clip is extended from its card (the new clip renders
linked to its source, compared in one click; a clip the route cannot extend says why), and variations are
drawn together, several clips from one request, each its own card."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from studio.clips.models import Clip
from studio.projects.models import Project
from studio.providers.models import ProviderAccount
from studio.simulator.models import SimulatorRequest
from studio.simulator.service_accounts import issue_key_file
from studio.tasks.models import Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAST = "veo-3.1-fast-generate-001"


def on_google_cloud(task: Task) -> ProviderAccount:
    """Move a finished task (and its real 8 s, 24 fps clip) onto a Google Cloud account on the simulator."""
    account = ProviderAccount(
        project_id=task.project_id,
        label="Google Cloud",
        route="google-cloud",
        base_url="/simulator/google-cloud",
        options={"project_id": "dailies-sim", "location": "us-central1"},
        poll_interval_s=5.0,
    )
    account.set_api_key(
        issue_key_file(project_id="dailies-sim", token_uri=f"{settings.SITE_URL}/simulator/google-cloud/token")
    )
    account.save()
    Task.objects.filter(pk=task.pk).update(account=account, route="google-cloud", model=FAST, tier="fast")
    return account


def test_a_clip_is_extended_from_its_card_and_compared_with_its_original(owner_page, clips, run_worker, shoot):
    page = owner_page
    source = clips.draft.task
    on_google_cloud(source)
    page.goto(f"/projects/{clips.project_id}/")
    card = page.locator(f"#task-{source.pk}")
    card.locator("a:has-text('Extend')").click()

    expect(page.locator("[data-extend-quote]")).to_contain_text("Adds 7 s to the 8 s clip")
    expect(page.locator("[data-extend-quote]")).to_contain_text("≈ $")
    page.click("button:has-text('Extend by 7 s')")  # empty: refused where the user is
    expect(page.locator("#id_continuation")).to_be_focused()  # the browser's own required check
    page.fill("#id_continuation", "The camera rises over the lighthouse as the lamp turns on")
    shoot("asked")
    page.click("button:has-text('Extend by 7 s')")

    (extension,) = Task.objects.filter(extended_from=source)
    new_card = page.locator(f"#task-{extension.pk}")
    expect(new_card).to_contain_text(f"Extends draft #{source.pk}")
    expect(new_card).to_contain_text("“The camera rises over the lighthouse")
    expect(new_card).to_contain_text("+7 s")

    (done,) = run_worker(extension.pk)
    assert done.state == Task.State.DONE, done.error_message
    assert round(Clip.objects.get(task=done).duration_s) == 15
    page.reload()
    expect(new_card.locator("video")).to_be_visible()
    shoot("extended")
    new_card.locator("a:has-text('Compare with the original')").click()
    expect(page.locator("video")).to_have_count(2)
    shoot("compare")


def test_a_clip_its_route_cannot_extend_says_why(owner_page, clips):
    page = owner_page
    source = clips.draft.task
    on_google_cloud(source)
    Clip.objects.filter(task=source).update(frame_rate=30.0)
    page.goto(f"/projects/{clips.project_id}/")
    card = page.locator(f"#task-{source.pk}")
    expect(card.locator("[data-extend-refusal]")).to_contain_text(
        "Only 24 fps clips can be extended; this one is 30 fps"
    )
    expect(card.locator("a:has-text('Extend')")).to_have_count(0)
    page.goto(f"/tasks/{source.pk}/extend")
    expect(page.locator("[data-extend-refusal]")).to_contain_text("This clip cannot be extended")
    expect(page.locator("button:has-text('Extend by')")).to_have_count(0)


def test_variations_drawn_together_are_one_request_and_each_clip_its_own_card(owner_page, clips, run_worker, shoot):
    page = owner_page
    account = on_google_cloud(clips.draft.task)
    Project.objects.filter(pk=clips.project_id).update(draft_account=account)
    page.goto(f"/projects/{clips.project_id}/")
    page.fill("#id_prompt", "Three paper boats on a puddle, low angle")
    page.click("#draft-panel details[data-section=seed] > summary")
    page.fill("#id_variations", "3")
    page.check("#id_one_request")
    expect(page.locator("#draft-panel .field-one_request")).to_contain_text("Up to 4 variations from one request")
    expect(page.locator("#draft-quote")).to_contain_text("3 ×")
    before = set(Task.objects.values_list("pk", flat=True))
    page.click("#draft-panel button[type=submit]")
    group = page.locator("#task-list > section.batch-group").first
    expect(group.locator("article.task-card")).to_have_count(3)
    expect(group).to_contain_text("Clip 3 of one request, sent by draft #")
    expect(group.locator(":scope > header")).to_contain_text("3 drafts drawn together")
    shoot("sent")

    made = list(Task.objects.exclude(pk__in=before).order_by("pk"))
    done = run_worker(*(task.pk for task in made))
    assert all(task.state == Task.State.DONE for task in done), [task.error_message for task in done]
    assert SimulatorRequest.objects.filter(path__endswith=":predictLongRunning").count() == 1
    page.reload()
    expect(page.locator("#task-list > section.batch-group").first.locator("article.task-card video")).to_have_count(3)
    shoot("done")
