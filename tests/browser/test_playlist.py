"""A playlist in a real browser: made from the gallery's selection, reordered by dragging, played
through (the next clip starts when one ends; N and P move on and back), approved with the A key."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from studio.clips.models import Clip
from studio.review.models import Comment, Playlist, PlaylistItem

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The test's own listener for anything the Content-Security-Policy blocks, added before page scripts run.
LISTEN = """
window.__blocked = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.__blocked.push(`${event.violatedDirective} ${event.sourceFile}:${event.lineNumber} ${event.sample}`));
"""


def stage_clip(page) -> str:
    return page.locator("#playlist-stage").get_attribute("data-clip")


def listed(page) -> list[str]:
    return page.locator("[data-items] > .playlist-item").evaluate_all("items => items.map(i => i.dataset.clip)")


def wait_for_video(page, condition: str) -> None:
    """Wait until `condition` holds for the stage's video, bound as `v` (the page's policy forbids eval)."""
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('#playlist-stage video'); return v && ({condition}); }}"
    )


def test_a_playlist_from_the_gallery_reordered_played_through_and_approved(owner_page, clips, screenshots, shoot):
    page = owner_page
    page.context.add_init_script(LISTEN)
    short, draft = clips.short, clips.draft
    page.goto(f"/projects/{clips.project_id}/gallery")

    # Two clips selected in the gallery (newest first there: the 8 s draft, then the 4 s one).
    page.check(f"#clip-{short.pk} input[name=clip]")
    page.check(f"#clip-{draft.pk} input[name=clip]")
    expect(page.locator("#add-to-playlist")).to_have_value("new")
    shoot("gallery")
    page.click("button:has-text('Add to playlist')")
    page.wait_for_url(re.compile(r"/playlists/\d+/$"))
    playlist = Playlist.objects.get(project_id=clips.project_id)
    assert listed(page) == [str(draft.pk), str(short.pk)]
    assert stage_clip(page) == str(draft.pk)
    expect(page.locator(".messages")).to_contain_text("Added 2 clips to")

    # Drag the short clip above the other: the list moves and the order is saved.
    page.drag_and_drop(f"#item-{short.pk}", f"#item-{draft.pk}")
    assert listed(page) == [str(short.pk), str(draft.pk)]
    expect(page.locator(f"#item-{short.pk} [data-role=n]")).to_have_text("1")
    expect(page.locator("[data-role=said]")).to_have_text("New order saved.")
    order = PlaylistItem.objects.filter(playlist=playlist).order_by("position").values_list("clip_id", flat=True)
    assert list(order) == [short.pk, draft.pk]

    # P goes back to the clip that is now first; it plays, and when it ends the next one starts by itself.
    page.keyboard.press("p")
    expect(page.locator("#playlist-stage")).to_have_attribute("data-clip", str(short.pk))
    expect(page.locator(f"#item-{short.pk}")).to_have_class(re.compile(r"\bis-current\b"))
    page.wait_for_url(re.compile(rf"\?clip={short.pk}$"))
    page.click("#playlist-stage [data-action=toggle]")
    wait_for_video(page, "!v.paused && v.currentTime > 0.2")
    page.evaluate(
        "() => { const v = document.querySelector('#playlist-stage video'); v.currentTime = v.duration - 0.3; }"
    )
    expect(page.locator("#playlist-stage")).to_have_attribute("data-clip", str(draft.pk), timeout=10_000)
    wait_for_video(page, "!v.paused && v.currentTime > 0.3")
    expect(page.locator("#playlist-stage h2")).to_contain_text("2 of 2")

    # A approves the clip on screen, and the player plays on.
    page.keyboard.press("a")
    expect(page.locator("#playlist-status [data-role=status]")).to_have_text("Approved")
    expect(page.locator(f"#item-{draft.pk} .badge.review-approved")).to_be_visible()
    wait_for_video(page, "!v.paused")
    approved = Clip.objects.get(pk=draft.pk)
    assert approved.review_status == Clip.Review.APPROVED and approved.reviewed_by.get_username() == "owner"
    expect(page.locator("[data-role=said]")).to_have_text("Marked approved.")
    page.evaluate("() => { document.querySelector('#playlist-stage video').pause(); window.scrollTo(0, 0); }")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "playlist.png"), full_page=True)

    # N at the end says so; P then N goes back and on again.
    page.keyboard.press("n")
    expect(page.locator("[data-role=said]")).to_have_text("That was the last clip.")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#playlist-stage")).to_have_attribute("data-clip", str(short.pk))
    page.keyboard.press("n")
    expect(page.locator("#playlist-stage")).to_have_attribute("data-clip", str(draft.pk))
    assert page.evaluate("window.__blocked") == []

    # The project's list names it, with its two clips.
    page.goto(f"/projects/{clips.project_id}/playlists/")
    expect(page.locator(".playlist-rows li")).to_contain_text("2 clips")
    shoot("list")


def test_the_printable_feedback_shows_the_frame_of_each_timecoded_comment(owner_page, clips, screenshots):
    page = owner_page
    short, draft = clips.short, clips.draft
    playlist = Playlist.objects.create(project_id=clips.project_id, name="Client cut")
    PlaylistItem.objects.create(playlist=playlist, clip=draft, position=0)
    PlaylistItem.objects.create(playlist=playlist, clip=short, position=1)
    owner = draft.task.created_by
    Comment.objects.create(project_id=clips.project_id, clip=draft, author=owner, text="Gull too close", frame_in=48)
    Comment.objects.create(project_id=clips.project_id, clip=draft, guest_name="Ada", text="Love the light")
    page.goto(f"/playlists/{playlist.pk}/feedback")
    still = page.locator(f"img[src='/clips/{draft.pk}/frames/48.jpg']")
    expect(still).to_have_count(1)
    page.wait_for_function(
        f"() => {{ const i = document.querySelector(\"img[src='/clips/{draft.pk}/frames/48.jpg']\");"
        " return i && i.complete && i.naturalWidth === 640 && i.naturalHeight === 360; }"
    )
    expect(page.locator(".feedback-still figcaption")).to_have_text("00:00:02:00 · frame 48")
    page.screenshot(path=str(screenshots / "playlist-feedback.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.locator(".topbar").is_hidden() and page.locator(".feedback-tools").is_hidden()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    page.screenshot(path=str(screenshots / "playlist-feedback-print.png"), full_page=True)


def test_without_script_the_buttons_still_reorder_and_set_the_status(browser, studio, clips, screenshots):
    context = browser.new_context(
        base_url=studio.url, java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        page.goto("/login/")
        page.fill("input[name=username]", "editor")
        page.fill("input[name=password]", "pw-editor")
        page.click("button:has-text('Log in')")
        page.wait_for_url(lambda url: "/login/" not in url)
        short, draft = clips.short, clips.draft
        playlist = Playlist.objects.create(project_id=clips.project_id, name="Plain")
        PlaylistItem.objects.create(playlist=playlist, clip=short, position=0)
        PlaylistItem.objects.create(playlist=playlist, clip=draft, position=1)
        page.goto(f"/playlists/{playlist.pk}/")
        page.click(f"#item-{draft.pk} button[value=up]")
        assert listed(page) == [str(draft.pk), str(short.pk)]
        page.click("[data-status-form] button[value=changes]")
        expect(page.locator("#playlist-status [data-role=status]")).to_have_text("Changes requested")
        # The clip on the stage stays the one that was on it (the first when the page opened).
        assert page.url.endswith(f"/playlists/{playlist.pk}/?clip={short.pk}")
        assert Clip.objects.get(pk=short.pk).review_status == Clip.Review.CHANGES_REQUESTED
        page.screenshot(path=str(screenshots / "playlist-no-script.png"), full_page=True)
    finally:
        context.close()
