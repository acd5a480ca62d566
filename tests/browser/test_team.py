"""A team forms in the browser: the owner starts a project and invites; a newcomer signs up through the link."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.projects.models import Membership, Project
from studio.tasks.models import Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tab(browser, live_server, screenshots, request):
    """A factory of fresh browser tabs (one per person) on the live server; each is photographed at the end."""
    contexts = []

    def open_tab():
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_tab
    for number, context in enumerate(contexts):
        for page in context.pages:
            page.screenshot(path=str(screenshots / f"{request.node.name}-{number}.png"), full_page=True)
        context.close()


def log_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-" + username)
    page.click("button:has-text('Log in')")
    page.wait_for_url(lambda url: "/login/" not in url)


def test_the_owner_starts_a_project_and_a_newcomer_joins_through_the_invitation(
    tab, make_people, settings, screenshots
):
    settings.SIMULATOR_FOR_NEW_PROJECTS = True
    make_people()
    owner = tab()
    log_in(owner, "owner")
    owner.click("text=New project")
    owner.fill("input[name=name]", "Harbour lights")
    owner.fill("textarea[name=description]", "Thirty-second teaser for the festival")
    owner.click("button:has-text('Create project')")
    expect(owner.locator("h1")).to_have_text("Harbour lights")
    # Wired to the simulator like the sample project: the editor is there at once.
    expect(owner.locator("#draft-panel button[type=submit]")).to_have_text("Draft")

    owner.click("a.button:has-text('Members')")
    owner.fill("input[name=who]", "editor")
    owner.select_option("#id_role", "editor")
    owner.click("button:has-text('Invite')")
    expect(owner.locator("table.members")).to_contain_text("editor")

    owner.fill("input[name=who]", "newcomer@example.com")
    owner.select_option("#id_role", "reviewer")
    owner.click("button:has-text('Invite')")
    link = owner.locator("input.copy-link").input_value()
    assert "/invites/" in link
    owner.screenshot(path=str(screenshots / "invitation-link-for-the-owner.png"), full_page=True)

    newcomer = tab()
    newcomer.goto(link)
    expect(newcomer.locator("h1")).to_have_text("Join Harbour lights")
    newcomer.fill("input[name=username]", "newcomer")
    newcomer.fill("input[name=password1]", "a long festival passphrase")
    newcomer.fill("input[name=password2]", "a long festival passphrase")
    newcomer.click("button:has-text('Create account and join')")
    expect(newcomer.locator("h1")).to_have_text("Harbour lights")
    expect(newcomer.locator(".project-head .badge").first).to_have_text("Reviewer")
    # A reviewer watches: no Draft button.
    expect(newcomer.locator("#draft-panel")).to_contain_text("drafting needs an editor or owner")

    project = Project.objects.get(name="Harbour lights")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"owner": "owner", "editor": "editor", "newcomer": "reviewer"}
    # The link was for one person, once.
    again = tab()
    again.goto(link)
    expect(again.locator("h1")).to_have_text("This invitation does not work")


def test_an_editor_drafts_and_promotes_and_a_reviewer_downloads_the_finals_as_a_zip(
    tab, make_people, make_project, simulator, run_worker, screenshots
):
    people = make_people()
    project = make_project(people, name="Festival", poll_interval_s=5.0)

    editor = tab()
    log_in(editor, "editor")
    editor.goto(f"/projects/{project.pk}/")
    editor.fill("textarea[name=prompt]", "A paper boat drifting down a rain gutter, close up")
    editor.click("#draft-panel button[type=submit]")
    expect(editor.locator("#task-list article.task-card")).to_have_count(1)
    (draft,) = run_worker(Task.objects.get(project=project).pk)
    assert draft.state == Task.State.DONE, draft.error_message
    card = editor.locator(f"#task-{draft.pk}")
    expect(card.locator("video")).to_have_count(1)  # the page's one refresh brought the finished card
    card.get_by_role("button", name="Promote to final").click()
    expect(card.locator(".final-link")).to_contain_text("Final #")
    final = Task.objects.get(promoted_from=draft)
    (final,) = run_worker(final.pk)
    assert final.state == Task.State.DONE, final.error_message

    reviewer = tab()
    log_in(reviewer, "reviewer")
    reviewer.goto(f"/projects/{project.pk}/gallery")
    expect(reviewer.locator("figure.gallery-item")).to_have_count(2)
    reviewer.select_option("select[name=kind]", "final")
    reviewer.click("button:has-text('Filter')")
    expect(reviewer.locator("figure.gallery-item")).to_have_count(1)
    assert "kind=final" in reviewer.url
    reviewer.screenshot(path=str(screenshots / "gallery-filtered-to-finals.png"), full_page=True)
    with reviewer.expect_download() as download:
        reviewer.click("button:has-text('Download every matching clip as zip')")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    (entry,) = json.loads(archive.read("manifest.json"))["clips"]
    final.refresh_from_db()
    assert (entry["task"], entry["kind"], entry["seed"], entry["sha256"]) == (
        final.pk,
        "final",
        final.seed,
        final.clip.sha256,
    )
    assert entry["prompt"] == final.prompt_version.text and entry["promoted_from_task"] == draft.pk
    assert archive.read(entry["file"]) == Path(final.clip.file.path).read_bytes()
