"""The compare page in a real browser: one transport, two players in sync, frame steps, wipe,
swapping sides, and picking two clips from the project page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FRAME = 1 / 24
# currentTime is a double and a step lands a millisecond into its frame.
STEP_TOLERANCE = 0.003
DAILIES = "document.querySelector('[data-compare]').dailies"


def open_compare(page, clips, a, b) -> None:
    page.goto(f"/projects/{clips.project_id}/compare?a={a.pk}&b={b.pk}")
    page.wait_for_function(f"{DAILIES} !== undefined")
    page.evaluate(f"{DAILIES}.ready")


def run(page, expression: str):
    """Evaluate `expression` with `d` bound to the page's compare controls, awaiting a promise."""
    return page.evaluate(f"async () => {{ const d = {DAILIES}; return await ({expression}); }}")


def times(page) -> tuple[float, float]:
    return tuple(run(page, "[d.a.currentTime, d.b.currentTime]"))


def worst_drift(page, seconds: float) -> dict:
    """Sample |a − b| every 50 ms for `seconds`, inside the page so both are read in one go."""
    return page.evaluate(
        """async ([seconds]) => {
            const d = %s;
            let worst = 0;
            const end = performance.now() + seconds * 1000;
            while (performance.now() < end) {
                worst = Math.max(worst, Math.abs(d.a.currentTime - d.b.currentTime));
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return {worst, last: Math.abs(d.a.currentTime - d.b.currentTime), at: d.a.currentTime,
                    playing: d.playing};
        }""" % DAILIES,
        [seconds],
    )


def report(line: str) -> None:
    """Print a drift figure and keep it beside the screenshots, for the record."""
    print(f"\ndrift |a-b|: {line}")
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    with (SCREENSHOTS.parent / "compare-drift.txt").open("a") as log:
        log.write(line + "\n")


def test_players_stay_within_a_frame_through_play_seek_and_speed_change(owner_page, clips):
    page = owner_page
    open_compare(page, clips, clips.draft, clips.final)
    # A real click: browsers start sound only after a user gesture.
    page.click('[data-action="toggle"]')
    played = worst_drift(page, 2.0)
    assert played["playing"] and played["at"] > 1.5, played

    run(page, "d.seekTo(4)")
    a, b = times(page)
    just_after_seek = abs(a - b)
    after_seek = worst_drift(page, 1.0)
    assert after_seek["playing"] and 4.5 < after_seek["at"] < 5.5, after_seek

    run(page, "d.setRate(0.5)")
    assert run(page, "d.a.playbackRate") == 0.5
    assert run(page, "d.b.playbackRate") == pytest.approx(0.5, rel=0.15)  # the follower may be nudged
    after_speed = worst_drift(page, 1.5)
    assert after_speed["playing"], after_speed
    expect(page.locator('[data-action="rate"][data-rate="0.5"]')).to_have_attribute("aria-pressed", "true")

    report(
        f"over 2 s of play worst {played['worst'] * 1000:.1f} ms;"
        f" right after seeking {just_after_seek * 1000:.1f} ms, over 1 s of play after it"
        f" worst {after_seek['worst'] * 1000:.1f} ms;"
        f" over 1.5 s at 0.5x worst {after_speed['worst'] * 1000:.1f} ms"
    )
    assert played["worst"] <= FRAME
    assert just_after_seek <= FRAME
    assert after_seek["worst"] <= FRAME
    assert after_speed["worst"] <= FRAME


def test_drift_after_ten_seconds_of_play(owner_page, clips):
    page = owner_page
    open_compare(page, clips, clips.draft, clips.final)
    run(page, "d.setLoop(true)")
    page.click('[data-action="toggle"]')
    # 8 s clips: the loop restarts both once along the way.
    first = worst_drift(page, 7.5)
    second = worst_drift(page, 2.5)
    report(
        f"over 10 s of looped play worst {max(first['worst'], second['worst']) * 1000:.1f} ms"
        f" (first 7.5 s, unbroken: {first['worst'] * 1000:.1f} ms); at 10 s {second['last'] * 1000:.1f} ms"
    )
    assert first["playing"] and second["playing"]
    assert max(first["worst"], second["worst"]) <= FRAME


def test_frame_step_moves_both_players_one_frame(owner_page, clips):
    page = owner_page
    open_compare(page, clips, clips.short, clips.final)
    run(page, "d.seekTo(2)")
    start = times(page)

    run(page, "d.step(1)")
    forward = times(page)
    for before, after in zip(start, forward):
        assert after - before == pytest.approx(FRAME, abs=STEP_TOLERANCE)

    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    run(page, "d.idle()")
    back = times(page)
    for before, after in zip(start, back):
        assert before - after == pytest.approx(FRAME, abs=STEP_TOLERANCE)
    expect(page.locator('[data-role="time"]')).to_have_text("00:01:23")

    # Stepping while playing pauses both first, on the same frame.
    page.click('[data-action="toggle"]')
    page.wait_for_timeout(500)
    page.click('[data-action="step-forward"]')
    run(page, "d.idle()")
    assert run(page, "d.a.paused && d.b.paused && !d.playing")
    a, b = times(page)
    assert a == pytest.approx(b, abs=0.001)

    # Different lengths: the transport spans the 8 s clip and the 4 s one holds its last frame.
    expect(page.locator('[data-role="length"]')).to_have_text("00:08:00")
    run(page, "d.seekTo(6)")
    short, long = times(page)
    assert long == pytest.approx(6.0, abs=0.001)
    assert 4.0 - FRAME < short < 4.0


def test_wipe_divider_follows_a_drag_and_the_keys(owner_page, clips, shoot):
    page = owner_page
    open_compare(page, clips, clips.draft, clips.final)
    page.click('[data-action="mode"][data-mode="wipe"]')
    divider = page.locator('[data-role="divider"]')
    expect(divider).to_be_visible()
    clip_path = "getComputedStyle(d.b).clipPath"
    assert run(page, clip_path) == "inset(0px 0px 0px 50%)"

    stage = page.locator('[data-role="stage"]').bounding_box()
    handle = divider.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.25, stage["y"] + stage["height"] / 2, steps=8)
    page.mouse.up()
    inset = float(re.fullmatch(r"inset\(0px 0px 0px ([\d.]+)%\)", run(page, clip_path)).group(1))
    assert inset == pytest.approx(25, abs=1)
    moved = divider.bounding_box()
    quarter = stage["x"] + stage["width"] * 0.25
    assert moved["x"] + moved["width"] / 2 == pytest.approx(quarter, abs=stage["width"] / 100)

    # The drag left the divider focused: arrows move it, and do not step the clips.
    before = times(page)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(divider).to_have_attribute("aria-valuenow", str(round(inset) + 5))
    assert times(page) == before
    shoot("wipe")

    page.click('[data-action="mode"][data-mode="side"]')
    assert run(page, clip_path) == "none"


def test_brackets_swap_sides(owner_page, clips):
    page = owner_page
    open_compare(page, clips, clips.short, clips.final)
    draft_src, final_src = f"/clips/{clips.short.pk}/video", f"/clips/{clips.final.pk}/video"
    left_video = page.locator('.compare-side[data-position="left"] video')
    run(page, "d.seekTo(3)")
    assert run(page, "d.a.getAttribute('src')") == draft_src
    expect(page.locator('.notes[data-orientation="ab"] del').first).to_have_text("dusk, ")

    page.keyboard.press("[")
    run(page, "d.idle()")
    assert run(page, "[d.a.getAttribute('src'), d.b.getAttribute('src')]") == [final_src, draft_src]
    expect(left_video).to_have_attribute("src", final_src)
    expect(page.locator('.compare-side[data-position="left"] .side-tag')).to_have_text("A")
    # The differences now read from the new left clip to the new right one.
    expect(page.locator('.notes[data-orientation="ab"]')).to_be_hidden()
    expect(page.locator('.notes[data-orientation="ba"] del').first).to_have_text("dawn, ")
    a, b = times(page)
    assert a == b == pytest.approx(3.0, abs=0.001)

    page.keyboard.press("]")
    run(page, "d.idle()")
    expect(left_video).to_have_attribute("src", draft_src)

    # Typing in a text field keeps its keys.
    page.evaluate("document.body.append(Object.assign(document.createElement('input'), {id: 'typing'}))")
    page.fill("#typing", "")
    page.type("#typing", "[x] ")
    run(page, "d.idle()")
    assert page.input_value("#typing") == "[x] "
    assert run(page, "d.a.getAttribute('src')") == draft_src and not run(page, "d.playing")


def test_add_to_compare_picks_two_clips_and_opens_them(owner_page, clips, shoot):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    short = page.locator(f"#compare-pick-{clips.short.pk}")
    final = page.locator(f"#compare-pick-{clips.final.pk}")
    if not short.count():
        pytest.fail("The project page has no “Add to compare” control: the clip card should "
                    '{% include "clips/_compare_pick.html" with clip=task.clip %}.', pytrace=False)

    short.get_by_role("button", name="Add to compare").click()
    expect(short).to_contain_text("In compare")
    expect(short).to_contain_text("Pick one more clip")
    final.get_by_role("button", name="Add to compare").click()
    expect(final.get_by_role("link", name="Compare the two")).to_be_visible()
    # The first card heard about the second pick and offers the link too.
    expect(short.get_by_role("link", name="Compare the two")).to_be_visible()
    shoot("project")

    short.get_by_role("link", name="Compare the two").click()
    page.wait_for_url(re.compile(rf"/projects/{clips.project_id}/compare\?a={clips.short.pk}&b={clips.final.pk}$"))
    page.evaluate(f"{DAILIES}.ready")
    assert run(page, "[d.a.getAttribute('src'), d.b.getAttribute('src')]") == [
        f"/clips/{clips.short.pk}/video",
        f"/clips/{clips.final.pk}/video",
    ]
