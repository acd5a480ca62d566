"""The clip player in a real browser: our controls instead of the browser's, frame steps at the
clip's own rate, loop, mute, full screen, hover scrub and the Download button's file name.

Read as a viewer would: the <video> element's own state, and the attributes the controls set
anyway (aria-pressed, is-playing).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from studio.clips.downloads import download_name

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLL_MS = 20


def card_player(page, task_id: int):
    player = page.locator(f"#task-{task_id} [data-player]")
    expect(player).to_have_class(re.compile(r"\bis-ready\b"))
    return player


def video_state(player) -> dict:
    return player.locator("video").evaluate(
        "v => ({time: v.currentTime, paused: v.paused, loop: v.loop, muted: v.muted, controls: v.controls,"
        " seeking: v.seeking, ready: v.readyState, duration: v.duration, preload: v.preload})"
    )


def wait_for(player, condition: str) -> None:
    """Wait until `condition` holds, with the player's video bound as `v`."""
    player.locator("video").evaluate(
        """(v, condition) => new Promise((resolve, reject) => {
            const check = new Function("v", "return (" + condition + ");");
            const started = performance.now();
            (function poll() {
                if (check(v)) resolve();
                else if (performance.now() - started > 10000) reject(new Error("timed out: " + condition));
                else setTimeout(poll, 20);
            })();
        })""",
        condition,
    )


def settled(player) -> dict:
    wait_for(player, "!v.seeking && v.readyState >= 2")
    return video_state(player)


def test_the_card_player_plays_steps_loops_mutes_scrubs_and_downloads(owner_page, clips, screenshots):
    page = owner_page
    final = clips.final
    fps = final.frame_rate
    frame = 1 / fps
    page.goto(f"/projects/{clips.project_id}/")
    player = card_player(page, final.task_id)
    video = player.locator("video")

    # Our controls, not the browser's.
    assert video_state(player)["controls"] is False
    assert video.get_attribute("controls") is None
    # Large enough to judge: the whole width of its card, well past a 300 px thumbnail.
    card_box = page.locator(f"#task-{final.task_id}").bounding_box()
    video_box = video.bounding_box()
    assert card_box and video_box and video_box["width"] >= 380
    assert video_box["width"] >= card_box["width"] - 40
    wait_for(player, "v.readyState >= 1")

    # Play, then pause.
    toggle = player.locator('[data-action="toggle"]')
    toggle.click()
    wait_for(player, "!v.paused && v.currentTime > 0.3")
    expect(player).to_have_class(re.compile(r"\bis-playing\b"))
    expect(toggle).to_have_attribute("aria-label", "Pause")
    toggle.click()
    wait_for(player, "v.paused")
    expect(player).not_to_have_class(re.compile(r"\bis-playing\b"))

    # A frame step from wherever it stopped lands at the start of a frame; the next moves one frame.
    player.locator('[data-action="step-back"]').click()
    before = settled(player)
    player.locator('[data-action="step-forward"]').click()
    after = settled(player)
    assert abs((after["time"] - before["time"]) - frame) < frame / 2, (before, after)
    shown = round((after["time"] - 0.001) * fps)
    expect(player.locator('[data-role="frame"]')).to_have_text(re.compile(rf"^{shown} / \d+$"))
    # And by key, with the player focused.
    player.focus()
    page.keyboard.press("ArrowRight")
    keyed = settled(player)
    assert abs((keyed["time"] - after["time"]) - frame) < frame / 2, (after, keyed)
    page.keyboard.press("ArrowLeft")
    assert abs(settled(player)["time"] - after["time"]) < frame / 2

    # Loop by key and by button.
    loop = player.locator('[data-action="loop"]')
    page.keyboard.press("l")
    assert video_state(player)["loop"] is True
    expect(loop).to_have_attribute("aria-pressed", "true")
    loop.click()
    assert video_state(player)["loop"] is False
    expect(loop).to_have_attribute("aria-pressed", "false")

    # Mute by button and by key.
    mute = player.locator('[data-action="mute"]')
    mute.click()
    assert video_state(player)["muted"] is True
    expect(mute).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("m")
    assert video_state(player)["muted"] is False

    # Space plays and pauses the focused player.
    page.keyboard.press(" ")
    wait_for(player, "!v.paused")
    page.keyboard.press(" ")
    wait_for(player, "v.paused")

    # Full screen on F, and back.
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement && document.fullscreenElement.matches('[data-player]')")
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement === null")

    # Hovering the paused clip scrubs it: pointer x → time; leaving puts it back.
    resting = settled(player)["time"]
    player.scroll_into_view_if_needed()
    stage = player.locator('[data-role="stage"]').bounding_box()
    assert stage
    length = video_state(player)["duration"]
    page.mouse.move(stage["x"] + stage["width"] * 0.2, stage["y"] + stage["height"] / 2)
    page.mouse.move(stage["x"] + stage["width"] * 0.75, stage["y"] + stage["height"] / 2, steps=5)
    wait_for(player, f"!v.seeking && Math.abs(v.currentTime - {0.75 * length}) < {2 * frame}")
    assert video_state(player)["paused"] is True
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(screenshots / "card-player-hover-scrub.png"),
        clip=page.locator(f"#task-{final.task_id}").bounding_box(),
    )
    page.mouse.move(5, 5)
    wait_for(player, f"!v.seeking && Math.abs(v.currentTime - {resting}) < 0.01")

    # Download: the clip, saved under project, prompt name, version, seed and tier.
    expected = download_name(final)
    assert re.fullmatch(r"moonrise_[a-z0-9-]+_v2_seed-1234_quality\.mp4", expected), expected
    link = player.locator('[data-role="download"]')
    assert link.get_attribute("href") == f"/clips/{final.pk}/video?download=1"
    with page.expect_download() as saving:
        link.click()
    download = saving.value
    assert download.suggested_filename == expected
    assert download.failure() is None

    page.mouse.move(5, 5)
    page.locator(f"#task-{final.task_id}").screenshot(path=str(screenshots / "card-player.png"))


def test_a_card_swapped_in_by_htmx_gets_the_player_too(owner_page, clips):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    task_id = clips.draft.task_id
    card_player(page, task_id)
    # The card leaves and comes back over htmx, as a card does when the live refresh first shows it.
    page.evaluate(f"document.querySelector('#task-{task_id}').remove()")
    page.evaluate(
        "url => htmx.ajax('GET', url, {target: '#task-list', swap: 'afterbegin'})",
        f"/tasks/{task_id}/card",
    )
    player = card_player(page, task_id)
    assert video_state(player)["controls"] is False
    player.locator('[data-action="loop"]').click()
    assert video_state(player)["loop"] is True


def test_a_clip_being_watched_plays_on_when_its_card_is_sent_again(owner_page, clips):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    task_id = clips.draft.task_id
    player = card_player(page, task_id)
    wait_for(player, "v.readyState >= 1")
    player.locator('[data-action="loop"]').click()
    player.locator('[data-action="toggle"]').click()
    wait_for(player, "!v.paused && v.currentTime > 0.2")
    page.evaluate(
        "id => { const card = document.querySelector('#task-' + id); card.dataset.old = '1';"
        " card.querySelector('[data-player]').dataset.old = '1'; }",
        task_id,
    )
    page.evaluate(
        "([url, target]) => htmx.ajax('GET', url, {target, swap: 'outerHTML'})",
        [f"/tasks/{task_id}/card", f"#task-{task_id}"],
    )
    page.wait_for_function(f"() => document.querySelector('#task-{task_id}:not([data-old])')")
    # A new card around the same player, still playing, still looping.
    expect(page.locator(f"#task-{task_id} [data-player][data-old]")).to_have_count(1)
    page.wait_for_timeout(300)
    state = video_state(player)
    assert state["paused"] is False and state["loop"] is True


def test_gallery_posters_load_nothing_until_hovered_then_scrub(owner_page, clips):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/gallery")
    player = page.locator(f"#clip-{clips.draft.pk} [data-player]")
    expect(player).to_have_class(re.compile(r"\bis-ready\b"))
    state = video_state(player)
    assert state["controls"] is False and state["ready"] == 0 and state["preload"] == "none"
    player.scroll_into_view_if_needed()
    stage = player.locator('[data-role="stage"]').bounding_box()
    assert stage
    page.mouse.move(stage["x"] + 2, stage["y"] + stage["height"] / 2)
    middle = (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.move(*middle, steps=3)
    # The first hover starts the download; on a busy machine the moves can all land before the
    # metadata does. A hand resting on the poster moves a little: the picture follows it there.
    wait_for(player, "v.readyState >= 1")
    page.mouse.move(middle[0] + 1, middle[1])
    page.mouse.move(*middle)
    wait_for(player, f"v.readyState >= 2 && !v.seeking && Math.abs(v.currentTime - {clips.draft.duration_s / 2}) < 0.2")
    assert video_state(player)["paused"] is True
    page.mouse.move(5, 5)
    wait_for(player, "!v.seeking && v.currentTime < 0.01")


def test_the_clip_page_has_the_large_player(owner_page, clips):
    page = owner_page
    page.goto(f"/clips/{clips.final.pk}/")
    player = page.locator(".clip-player [data-player]")
    expect(player).to_have_class(re.compile(r"\bplayer-large\b"))
    expect(player).to_have_class(re.compile(r"\bis-ready\b"))
    assert video_state(player)["controls"] is False
    box = player.locator("video").bounding_box()
    assert box and box["width"] > 800
    expect(player.locator('[data-role="download"]')).to_have_attribute(
        "href", f"/clips/{clips.final.pk}/video?download=1"
    )
