"""A review link in the browser: the owner shares a final behind a password; a guest without an account
opens it, gives the password and a name, watches, comments and approves; the owner revokes the link;
the same address answers 404 and the guest's comment stays on the members' clip page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studio.clips.models import Clip
from studio.review import links
from studio.review.models import Comment, ReviewLink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "harbour at dawn"
COMMENT = "Lovely light. <b>Hold</b> the last shot a beat longer?"


@pytest.fixture
def guest_page(browser, studio, screenshots):
    """A second browser, never logged in: its own cookies, its own session."""
    context = browser.new_context(base_url=studio.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The strict CSP holds on the guest's pages too: Chromium reports anything it blocks on the console.
    page.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    yield page
    context.close()
    assert not errors, f"JavaScript errors or blocked content on the guest's page: {errors}"


def test_a_guest_reviews_through_a_password_protected_link_until_it_is_revoked(
    owner_page, guest_page, clips, screenshots
):
    owner = owner_page
    final = clips.final
    owner.goto(f"/clips/{final.pk}/")
    owner.click("a:has-text('Share for review')")
    expect(owner.locator("h2")).to_have_text("New review link")
    # Opened from the clip: its number is filled in, and its draft is offered as the pair's other side.
    expect(owner.locator("input[name=clip]")).to_have_value(str(final.pk))
    expect(owner.locator("input[name=other_clip]")).to_have_value(str(clips.draft.pk))
    owner.fill("input[name=title]", "Lighthouse final for the client")
    owner.check("input[name=allow_status]")
    owner.fill("input[name=password]", PASSWORD)
    owner.screenshot(path=str(screenshots / "review-link-new.png"), full_page=True)
    owner.click("button:has-text('Make the link')")
    address = owner.locator("[data-made-link] input.copy-link").input_value()
    assert "/r/" in address
    expect(owner.locator("table.review-links")).to_contain_text("Lighthouse final for the client")
    expect(owner.locator("table.review-links")).to_contain_text("not yet")
    owner.screenshot(path=str(screenshots / "review-links-list.png"), full_page=True)

    guest = guest_page
    guest.goto(address)
    expect(guest.locator("h1")).to_have_text("Review link")
    expect(guest.locator("video")).to_have_count(0)
    guest.fill("input[name=password]", "harbour at dusk")
    guest.click("button:has-text('Open')")
    expect(guest.locator("[role=alert]")).to_have_text("That password is not right.")
    expect(guest.locator("video")).to_have_count(0)
    guest.screenshot(path=str(screenshots / "review-link-password.png"), full_page=True)
    guest.fill("input[name=password]", PASSWORD)
    guest.click("button:has-text('Open')")
    guest.fill("input[name=name]", "Ana <i>from the agency</i>")
    guest.click("button:has-text('Continue')")

    expect(guest.locator("h1")).to_have_text("Lighthouse final for the client")
    expect(guest.locator(".guest-who")).to_contain_text("Ana <i>from the agency</i>")
    # The player plays the final through the link, never a member's media address.
    video = guest.locator("video")
    assert f"/clips/{final.pk}/video" in video.get_attribute("src")
    assert video.get_attribute("src").startswith("/r/")
    guest.wait_for_function("() => document.querySelector('video').readyState >= 1")
    assert guest.evaluate("document.querySelector('video').duration") == pytest.approx(final.duration_s, abs=0.1)

    guest.fill(f"#comment-text-{final.pk}", COMMENT)
    guest.click(f"#comments-{final.pk} button[type=submit]:has-text('Comment')")
    comment = guest.locator(f"#comments-{final.pk} .comment").first
    expect(comment).to_contain_text(COMMENT)
    expect(comment.locator(".badge.guest")).to_be_visible()
    guest.fill(f"#note-{final.pk}", "Approved for the festival cut")
    guest.click("button[name=review][value=approved]")
    expect(guest.locator(f"#review-{final.pk} .badge")).to_have_text("Approved")
    expect(guest.locator(f"#review-{final.pk} q")).to_have_text(
        "Ana <i>from the agency</i> (guest): Approved for the festival cut"
    )
    guest.screenshot(path=str(screenshots / "review-link-guest.png"), full_page=True)

    stored = Comment.objects.get()
    assert (stored.text, stored.guest_name, stored.author_id) == (COMMENT, "Ana <i>from the agency</i>", None)
    final.refresh_from_db()
    assert final.review_status == Clip.Review.APPROVED and final.reviewed_by is None

    owner.goto(f"/projects/{clips.project_id}/review-links/")
    expect(owner.locator("table.review-links")).not_to_contain_text("not yet")
    owner.once("dialog", lambda dialog: dialog.accept())
    owner.click("table.review-links button:has-text('Revoke')")
    expect(owner.locator("table.review-links")).to_contain_text("Revoked")
    assert ReviewLink.objects.get().revoked_at is not None

    answer = guest.goto(address)
    assert answer is not None and answer.status == 404
    answer = guest.goto(address.rstrip("/") + f"/clips/{final.pk}/video")
    assert answer is not None and answer.status == 404

    owner.goto(f"/clips/{final.pk}/")
    kept = owner.locator(f"#comments-{final.pk} .comment").first
    expect(kept).to_contain_text(COMMENT)
    expect(kept).to_contain_text("Ana <i>from the agency</i>")
    expect(kept.locator(".badge.guest")).to_be_visible()


def test_a_pair_link_plays_draft_and_final_side_by_side_and_a_filter_link_steps_through_its_clips(
    guest_page, clips, screenshots
):
    owner = clips.final.task.created_by
    project = clips.final.task.project
    pair = links.create_link(
        project=project,
        by=owner,
        data={"kind": "pair", "clip": clips.draft, "other_clip": clips.final, "allow_comments": False},
    )
    guest = guest_page
    guest.goto(f"/r/{pair.token}/")
    # Watching only: no name asked, no forms; both clips play through the link.
    expect(guest.locator("video")).to_have_count(2)
    expect(guest.locator("form[action*='/comments']")).to_have_count(0)
    expect(guest.locator("button[name=review]")).to_have_count(0)
    guest.wait_for_function("() => [...document.querySelectorAll('video')].every((video) => video.readyState >= 1)")
    sources = [guest.locator("video").nth(n).get_attribute("src") for n in range(2)]
    assert sources == [f"/r/{pair.token}/clips/{clips.draft.pk}/video", f"/r/{pair.token}/clips/{clips.final.pk}/video"]
    # One bar plays both together, and pauses both.
    guest.click("button:has-text('Play both')")
    guest.wait_for_function("() => [...document.querySelectorAll('video')].every((video) => video.currentTime > 0.5)")
    guest.click("button:has-text('Pause both')")
    guest.wait_for_function(
        "() => [...document.querySelectorAll('video')].every((video) => video.paused && !video.seeking)"
    )
    times = guest.evaluate("[...document.querySelectorAll('video')].map((video) => video.currentTime)")
    apart = abs(times[0] - times[1])
    # Paused, both show the same frame (24 fps).
    assert apart < 1 / 24
    guest.screenshot(path=str(screenshots / "review-link-pair.png"), full_page=True)

    drafts = links.create_link(
        project=project, by=owner, data={"kind": "filter", "filter_query": "kind=draft&sort=oldest"}
    )
    guest.goto(f"/r/{drafts.token}/")
    expect(guest.locator(".guest-list > li")).to_have_count(2)
    guest.screenshot(path=str(screenshots / "review-link-list.png"), full_page=True)
    guest.click(f".guest-list a[href$='/clips/{clips.short.pk}/'] >> nth=0")
    expect(guest.locator(".guest-steps")).to_contain_text("Clip 1 of 2")
    guest.click("a:has-text('Next')")
    expect(guest.locator(".guest-steps")).to_contain_text("Clip 2 of 2")
    assert guest.locator("video").get_attribute("src") == f"/r/{drafts.token}/clips/{clips.draft.pk}/video"
    answer = guest.goto(f"/r/{drafts.token}/clips/{clips.final.pk}/")
    assert answer is not None and answer.status == 404
