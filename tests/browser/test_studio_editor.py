"""The studio page as a laptop shows it: the editor fits the screen with Draft and its quote in view,
New prompt starts prompts of their own, and a recalled task's words, version chip and inherited
settings agree until Reset clears them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from studio.prompts.models import Prompt
from studio.providers.base import Tier
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not on the page"
    return box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"]


def fifty_cards(clips) -> None:
    """47 more tasks beside the module's three, ended as a busy project's are (no worker runs here)."""
    draft = clips.draft.task
    for n in range(47):
        task = lifecycle.new_task(
            project=draft.project,
            prompt_version=draft.prompt_version,
            account=draft.account,
            tier=Tier.FAST,
            kind="draft",
            user=draft.created_by,
            seed=1000 + n,
            parameters=dict(draft.parameters),
        )
        Task.objects.filter(pk=task.pk).update(
            state=Task.State.BLOCKED, error_message="Blocked by the provider's safety filter. Nothing was billed."
        )


def test_draft_and_its_quote_are_in_view_on_a_laptop_with_50_cards(owner_page, clips, screenshots):
    page = owner_page
    fifty_cards(clips)
    assert Task.objects.filter(project_id=clips.project_id).count() == 50
    page.set_viewport_size(LAPTOP)
    page.goto(f"/projects/{clips.project_id}/")
    expect(page.locator("#draft-quote")).to_contain_text("Quote")
    assert page.evaluate("window.scrollY") == 0
    assert in_view(page, "#draft-panel button[type=submit]"), "Draft is below the fold"
    assert in_view(page, "#draft-quote"), "the quote is below the fold"
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "studio-page.png"))
    # Deep in the list the editor is still there, Draft and quote with it.
    page.mouse.wheel(0, 3000)
    page.wait_for_timeout(400)
    assert page.evaluate("window.scrollY") > 1000
    assert in_view(page, "#draft-panel button[type=submit]") and in_view(page, "#draft-quote")
    # Opening every folded section keeps Draft in view: the editor scrolls inside itself.
    for summary in page.locator("#draft-panel details.editor-section > summary").all():
        summary.click()
    page.wait_for_timeout(200)
    assert in_view(page, "#draft-panel button[type=submit]")
    # The sections remember being open across a reload.
    page.reload()
    expect(page.locator("#draft-panel details[data-section=images]")).to_have_attribute("open", "")


def test_two_new_prompts_make_two_prompts_in_the_library(owner_page, clips, screenshots):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    before = Prompt.objects.filter(project_id=clips.project_id).count()

    page.click("#draft-panel [data-new-prompt]")
    expect(page.locator("#draft-panel h2")).to_have_text("New prompt")
    page.fill("#draft-panel textarea[name=prompt]", "A hummingbird hovering at a red flower, macro")
    page.fill("#draft-panel input[name=prompt_name]", "Hummingbird")
    page.click("#draft-panel button[type=submit]")
    expect(page.locator("#draft-panel h2")).to_have_text("Hummingbird")
    expect(page.locator("#draft-panel [data-version-chip]")).to_have_text("v1")

    page.click("#draft-panel [data-new-prompt]")
    expect(page.locator("#draft-panel h2")).to_have_text("New prompt")
    page.fill("#draft-panel textarea[name=prompt]", "Rain on a neon street at night, slow dolly")
    # Ctrl+Enter drafts, like the button.
    page.press("#draft-panel textarea[name=prompt]", "Control+Enter")
    # Named after its first eight words.
    expect(page.locator("#draft-panel h2")).to_have_text("Rain on a neon street at night, slow…")

    assert Prompt.objects.filter(project_id=clips.project_id).count() == before + 2
    page.click("#draft-panel a:has-text('Library')")
    rows = page.locator(".library-row")
    expect(rows).to_have_count(before + 2)
    for name in ("Hummingbird", "Rain on a neon street at night, slow…"):
        row = rows.filter(has=page.locator(f"h2:has-text('{name}')"))
        expect(row.locator(".version-chip")).to_have_text("v1")
        expect(row).to_contain_text("1 version")
    # The library's search finds a prompt by its words.
    page.fill("input[name=q]", "neon")
    page.click("button:has-text('Search')")
    expect(rows).to_have_count(1)
    page.goto(f"/projects/{clips.project_id}/prompts")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "prompt-library.png"), full_page=True)


def test_a_recalled_task_shows_its_words_version_and_settings_until_reset(owner_page, clips):
    page = owner_page
    old = clips.short.task  # v1, 4 s, seed 1234; the prompt is at v2 since
    assert old.prompt_version.number == 1
    page.goto(f"/projects/{clips.project_id}/")
    page.locator(f"#task-{old.pk} a:has-text('Use these settings')").click()
    page.wait_for_url(re.compile(r"from_task="))
    editor = page.locator("#draft-panel")
    expect(editor.locator("[data-version-chip]")).to_have_text(re.compile(r"^v1\s+of 2$"))
    assert editor.locator("textarea[name=prompt]").input_value() == old.prompt_version.text
    note = editor.locator("[data-inherited]")
    expect(note).to_contain_text(f"task #{old.pk}")
    expect(note).to_contain_text("v1 words · seed 1234")
    expect(note).to_contain_text("4 s")
    assert editor.locator("input[name=seed]").input_value() == "1234"

    # Editing the words says they will be the next version.
    editor.locator("textarea[name=prompt]").press("End")
    editor.locator("textarea[name=prompt]").type(", rain")
    expect(editor.locator("[data-version-chip]")).to_have_text("v1 edited → v3")

    editor.locator("[data-reset]").click()
    page.wait_for_url(re.compile(r"fresh=1"))
    expect(editor.locator("[data-inherited]")).to_have_count(0)
    expect(editor.locator("[data-version-chip]")).to_have_text("v2")
    newest = clips.draft.task.prompt_version
    assert editor.locator("textarea[name=prompt]").input_value() == newest.text
    assert editor.locator("input[name=seed]").input_value() == ""
