"""Issue 14 in a browser: the editor's people and prompt-rewriting choices reach the task, and a model the
provider said is gone is flagged in the editor and on the account until an owner names another id."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from studio.providers.base import Tier
from studio.providers.models import ProviderAccount
from studio.tasks.models import Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_people_and_prompt_rewriting_are_chosen_in_the_editor_and_kept_on_the_draft(owner_page, clips, shoot):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    section = page.locator("#draft-panel details[data-section=model]")
    expect(section.locator("summary")).to_contain_text("provider's defaults")
    section.locator("summary").click()
    page.select_option("#draft-panel select[name=people]", "dont_allow")
    page.select_option("#draft-panel select[name=enhance_prompt]", "off")
    page.fill("#draft-panel textarea[name=prompt]", "An empty pier at dawn, gulls only")
    shoot("chosen")
    before = set(Task.objects.values_list("pk", flat=True))
    page.click("#draft-panel button[type=submit]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.task-card')].some(card => card.textContent.includes('An empty pier'))"
    )
    (task,) = Task.objects.exclude(pk__in=before)
    assert (task.parameters["people"], task.parameters["enhance_prompt"]) == ("dont_allow", False)


def test_a_gone_model_is_flagged_in_the_editor_and_on_the_account_until_the_owner_names_another(
    owner_page, clips, shoot
):
    page = owner_page
    account = ProviderAccount.objects.get(pk=clips.draft.task.account_id)
    fast = account.model_for(Tier.FAST)
    account.mark_model_gone(fast, "models/x is no longer available")

    page.goto(f"/projects/{clips.project_id}/")
    tier = page.locator("#draft-panel select[name=tier]")
    expect(tier.locator("option[value=fast]")).to_have_text(f"Fast · {fast} (gone)")
    expect(tier).to_have_value("fast")  # the tier of the user's latest draft
    expect(page.locator("#draft-panel")).to_contain_text(f"that {fast} is no longer available")
    before = Task.objects.count()
    page.fill("#draft-panel textarea[name=prompt]", "A lighthouse in fog")
    page.click("#draft-panel button[type=submit]")
    expect(page.locator("#draft-panel #id_tier_error")).to_contain_text("A project owner can set another fast model")
    assert Task.objects.count() == before
    shoot("editor-refuses")

    page.goto(f"/projects/{clips.project_id}/accounts/")
    page.click("text=Pick another model")
    expect(page.locator("#model-fast")).to_have_class("is-gone")
    page.fill("input[name=model_fast]", "veo-3.1-fast-generate-002")
    shoot("account")
    page.click("button:has-text('Save')")
    expect(page.locator("body")).to_contain_text("Saved")
    expect(page).to_have_url(re.compile(r"/accounts/(#.*)?$"))
    expect(page.locator("body")).not_to_contain_text("is no longer available")
    account.refresh_from_db()
    assert account.model_for(Tier.FAST) == "veo-3.1-fast-generate-002" and account.gone_models == {}
    page.goto(f"/projects/{clips.project_id}/")
    expect(page.locator("#draft-panel select[name=tier] option[value=fast]")).to_have_text(
        "Fast · veo-3.1-fast-generate-002"
    )
