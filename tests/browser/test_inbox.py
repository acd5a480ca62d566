"""The header's Inbox count follows the project page's one refresh; the inbox opens where it happened."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studio.review.models import Notification

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tab(browser, live_server, screenshots, request):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.screenshot(path=str(screenshots / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_a_mention_while_the_page_is_open_shows_in_the_header_and_opening_it_reads_it(
    tab, project, people, pending_task, archived_clip, clients, screenshots
):
    clip = archived_clip(pending_task(project, people["editor"]))
    pending_task(project, people["owner"])  # still in flight: the page's one refresh keeps asking
    tab.goto("/login/")
    tab.fill("input[name=username]", "owner")
    tab.fill("input[name=password]", "pw-owner")
    tab.click("button:has-text('Log in')")
    tab.wait_for_url(lambda url: "/login/" not in url)
    tab.goto(f"/projects/{project.pk}/")
    badge = tab.locator("#inbox-badge")
    expect(badge).to_have_text("Inbox")

    answer = clients["reviewer"].post(
        f"/clips/{clip.pk}/comments/add", {"text": "@owner the horizon tilts at 0:02"}, HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == 200
    # No reload: the refresh that follows the live card brings the new count.
    expect(badge.locator(".inbox-count")).to_have_text("1", timeout=5_000)
    expect(tab.locator("#inbox-badge input[name=unread]")).to_have_value("1")

    badge.click()
    tab.wait_for_url("**/inbox/")
    expect(tab.locator(".notification.unread")).to_have_count(1)
    expect(tab.locator(".notification a")).to_have_text("reviewer mentioned you: “@owner the horizon tilts at 0:02”")
    tab.screenshot(path=str(screenshots / "test_inbox_page.png"), full_page=True)
    tab.locator(".notification a").click()
    tab.wait_for_url(f"**/clips/{clip.pk}/#comment-*")
    assert Notification.objects.get().read_at is not None
    expect(tab.locator("#inbox-badge .inbox-count")).to_have_count(0)
