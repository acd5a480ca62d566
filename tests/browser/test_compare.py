"""The compare page in a real browser: one transport, two players in sync, frame steps, wipe,
swapping sides, and picking two clips from the project page.

The page ships no test hooks: these tests drive it through its controls and
read what a viewer would see — the two <video> elements, left (A) and right
(B), and the attributes the transport sets anyway (`is-playing`, `aria-busy`).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FPS = 24
FRAME = 1 / FPS
# The player seeks a millisecond into a frame, so rounding never shows the frame before.
INTO_FRAME = 0.001
# currentTime is a double and a step lands a millisecond into its frame.
STEP_TOLERANCE = 0.003

# Bound in every snippet run by `read`: what a viewer sees of the page.
SEEN = """
    const root = document.querySelector('[data-compare]');
    const a = root.querySelector('.compare-side[data-position="left"] video');
    const b = root.querySelector('.compare-side[data-position="right"] video');
    const playing = root.classList.contains('is-playing');
"""
# Interval polling, not Playwright's default of animation frames: these tests count the page's own.
POLL_MS = 20


def read(page, expression: str):
    """Evaluate `expression` with `a` and `b` (left and right players), `root` and `playing` bound."""
    return page.evaluate(f"() => {{ {SEEN} return ({expression}); }}")


def settle(page) -> None:
    """Wait until every move asked for so far has been made: the transport is no longer busy."""
    page.wait_for_function(f"() => {{ {SEEN} return root.getAttribute('aria-busy') === 'false'; }}", polling=POLL_MS)


def wait_until_lined_up(page) -> None:
    """Both clips show a frame and the player has put them on the same time."""
    page.wait_for_function(
        f"() => {{ {SEEN} return !root.querySelector('.compare-side.is-loading')"
        " && root.getAttribute('aria-busy') === 'false'; }",
        polling=POLL_MS,
    )


def open_compare(page, clips, a, b) -> None:
    page.goto(f"/projects/{clips.project_id}/compare?a={a.pk}&b={b.pk}")
    wait_until_lined_up(page)


def scrub_to(page, seconds: float) -> None:
    """Put the scrub bar on the frame at `seconds` and let go, as a click on the bar does."""
    page.locator('[data-action="seek"]').evaluate(
        """(bar, frame) => {
            bar.value = String(frame);
            bar.dispatchEvent(new Event('input', {bubbles: true}));
            bar.dispatchEvent(new Event('change', {bubbles: true}));
        }""",
        round(seconds * FPS),
    )
    settle(page)


def times(page) -> tuple[float, float]:
    return tuple(read(page, "[a.currentTime, b.currentTime]"))


def worst_drift(page, seconds: float) -> dict:
    """Sample |a − b| every 50 ms for `seconds`, inside the page so both are read in one go."""
    return page.evaluate(
        "async ([seconds]) => {"
        + SEEN
        + """
            let worst = 0;
            const end = performance.now() + seconds * 1000;
            while (performance.now() < end) {
                worst = Math.max(worst, Math.abs(a.currentTime - b.currentTime));
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return {worst, last: Math.abs(a.currentTime - b.currentTime), at: a.currentTime,
                    playing: root.classList.contains('is-playing')};
        }""",
        [seconds],
    )


@pytest.fixture
def report(screenshots):
    """`report(line)`: print a drift figure and keep it beside the screenshots, for the record."""

    def keep(line: str) -> None:
        print(f"\ndrift |a-b|: {line}")
        screenshots.parent.mkdir(parents=True, exist_ok=True)
        with (screenshots.parent / "compare-drift.txt").open("a") as log:
            log.write(line + "\n")

    return keep


def test_players_stay_within_a_frame_through_play_seek_and_speed_change(owner_page, clips, report):
    page = owner_page
    open_compare(page, clips, clips.draft, clips.final)
    # A real click: browsers start sound only after a user gesture.
    page.click('[data-action="toggle"]')
    played = worst_drift(page, 2.0)
    assert played["playing"] and played["at"] > 1.5, played

    scrub_to(page, 4)
    a, b = times(page)
    just_after_seek = abs(a - b)
    after_seek = worst_drift(page, 1.0)
    assert after_seek["playing"] and 4.5 < after_seek["at"] < 5.5, after_seek

    page.click('[data-action="rate"][data-rate="0.5"]')
    settle(page)
    leader, follower = read(page, "[a.playbackRate, b.playbackRate]")
    assert leader == 0.5
    assert follower == pytest.approx(0.5, rel=0.15)  # the follower may be nudged
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


def test_drift_after_ten_seconds_of_play(owner_page, clips, report):
    page = owner_page
    open_compare(page, clips, clips.draft, clips.final)
    page.click('[data-action="loop"]')
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
    scrub_to(page, 2)
    start = times(page)

    page.click('[data-action="step-forward"]')
    settle(page)
    forward = times(page)
    for before, after in zip(start, forward, strict=True):
        assert after - before == pytest.approx(FRAME, abs=STEP_TOLERANCE)

    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    settle(page)
    back = times(page)
    for before, after in zip(start, back, strict=True):
        assert before - after == pytest.approx(FRAME, abs=STEP_TOLERANCE)
    expect(page.locator('[data-role="time"]')).to_have_text("00:01:23")

    # Stepping while playing pauses both first, on the same frame.
    page.click('[data-action="toggle"]')
    page.wait_for_timeout(500)
    page.click('[data-action="step-forward"]')
    settle(page)
    assert read(page, "a.paused && b.paused && !playing")
    a, b = times(page)
    assert a == pytest.approx(b, abs=0.001)

    # Different lengths: the transport spans the 8 s clip and the 4 s one holds its last frame.
    expect(page.locator('[data-role="length"]')).to_have_text("00:08:00")
    scrub_to(page, 6)
    short, long = times(page)
    assert long == pytest.approx(6.0 + INTO_FRAME, abs=0.0005)
    assert 4.0 - FRAME < short < 4.0


def test_wipe_divider_follows_a_drag_and_the_keys(owner_page, clips, shoot):
    page = owner_page
    open_compare(page, clips, clips.draft, clips.final)
    page.click('[data-action="mode"][data-mode="wipe"]')
    divider = page.locator('[data-role="divider"]')
    expect(divider).to_be_visible()
    clip_path = "getComputedStyle(b).clipPath"
    assert read(page, clip_path) == "inset(0px 0px 0px 50%)"

    stage = page.locator('[data-role="stage"]').bounding_box()
    handle = divider.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.25, stage["y"] + stage["height"] / 2, steps=8)
    page.mouse.up()
    inset = float(re.fullmatch(r"inset\(0px 0px 0px ([\d.]+)%\)", read(page, clip_path)).group(1))
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
    assert read(page, clip_path) == "none"


def test_brackets_swap_sides(owner_page, clips):
    page = owner_page
    open_compare(page, clips, clips.short, clips.final)
    draft_src, final_src = f"/clips/{clips.short.pk}/video", f"/clips/{clips.final.pk}/video"
    left_video = page.locator('.compare-side[data-position="left"] video')
    scrub_to(page, 3)
    assert read(page, "a.getAttribute('src')") == draft_src
    expect(page.locator('.notes[data-orientation="ab"] del').first).to_have_text("dusk, ")

    page.keyboard.press("[")
    settle(page)
    assert read(page, "[a.getAttribute('src'), b.getAttribute('src')]") == [final_src, draft_src]
    expect(left_video).to_have_attribute("src", final_src)
    expect(page.locator('.compare-side[data-position="left"] .side-tag')).to_have_text("A")
    # The differences now read from the new left clip to the new right one.
    expect(page.locator('.notes[data-orientation="ab"]')).to_be_hidden()
    expect(page.locator('.notes[data-orientation="ba"] del').first).to_have_text("dawn, ")
    a, b = times(page)
    assert a == b == pytest.approx(3.0 + INTO_FRAME, abs=0.0005)

    page.keyboard.press("]")
    settle(page)
    expect(left_video).to_have_attribute("src", draft_src)

    # Typing in a text field keeps its keys.
    page.evaluate("document.body.append(Object.assign(document.createElement('input'), {id: 'typing'}))")
    page.fill("#typing", "")
    page.type("#typing", "[x] ")
    settle(page)
    assert page.input_value("#typing") == "[x] "
    assert read(page, "a.getAttribute('src')") == draft_src and not read(page, "playing")


def test_add_to_compare_picks_two_clips_and_opens_them(owner_page, clips, shoot):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    short = page.locator(f"#compare-pick-{clips.short.pk}")
    final = page.locator(f"#compare-pick-{clips.final.pk}")
    if not short.count():
        pytest.fail(
            "The project page has no “Add to compare” control: the clip card should "
            '{% include "clips/_compare_pick.html" with clip=task.clip %}.',
            pytrace=False,
        )

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
    wait_until_lined_up(page)
    assert read(page, "[a.getAttribute('src'), b.getAttribute('src')]") == [
        f"/clips/{clips.short.pk}/video",
        f"/clips/{clips.final.pk}/video",
    ]


def test_a_pick_made_while_the_controls_refresh_is_heard_by_every_control(owner_page, clips):
    """The first pick makes every control ask for itself again. On a slow server those answers may still
    be on their way when a second pick is made: every control must still end up saying what the second
    pick made of the selection, not what the answers read before it said."""
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    slow: list = []
    holding = {"refreshes": True}

    def hold(route) -> None:
        if holding["refreshes"] and route.request.method == "GET":
            slow.append((route, route.fetch()))  # read now, delivered late
        else:
            route.continue_()

    page.route(re.compile(r"/clips/\d+/compare-pick$"), hold)
    short = page.locator(f"#compare-pick-{clips.short.pk}")
    final = page.locator(f"#compare-pick-{clips.final.pk}")
    short.get_by_role("button", name="Add to compare").click()
    expect(short).to_contain_text("In compare")
    for _ in range(50):  # every control asks for itself; the answers say one clip is picked
        if len(slow) >= 3:
            break
        page.wait_for_timeout(100)
    assert len(slow) >= 3, f"every control should ask for itself again after a pick; {len(slow)} did"
    holding["refreshes"] = False
    final.get_by_role("button", name="Add to compare").click()
    expect(final.get_by_role("link", name="Compare the two")).to_be_visible()
    expect(short.get_by_role("link", name="Compare the two")).to_be_visible()
    for route, answer in slow:  # the late answers arrive at last
        try:
            route.fulfill(response=answer)
        except Exception:  # the page gave up on it (aborted): nothing to deliver
            pass
    page.wait_for_timeout(300)
    expect(short.get_by_role("link", name="Compare the two")).to_be_visible()
    expect(final.get_by_role("link", name="Compare the two")).to_be_visible()


# Counts the page's requests for an animation frame; installed before any script of the page runs.
COUNT_ANIMATION_FRAMES = """
    window.animationFramesAsked = 0;
    const ask = window.requestAnimationFrame.bind(window);
    window.requestAnimationFrame = (callback) => { window.animationFramesAsked += 1; return ask(callback); };
"""


def animation_frames_over(page, milliseconds: int) -> int:
    """How many animation frames the page asks for in `milliseconds` of doing nothing."""
    before = page.evaluate("window.animationFramesAsked")
    page.wait_for_timeout(milliseconds)
    return page.evaluate("window.animationFramesAsked") - before


def test_the_clock_ticks_only_while_playing(owner_page, clips):
    page = owner_page
    page.add_init_script(COUNT_ANIMATION_FRAMES)
    open_compare(page, clips, clips.draft, clips.final)
    assert animation_frames_over(page, 500) == 0, "a page that was never played works every frame"

    page.click('[data-action="toggle"]')
    settle(page)
    assert animation_frames_over(page, 500) > 10, "playing, the transport should follow every frame"

    page.click('[data-action="toggle"]')
    settle(page)
    assert read(page, "a.paused && b.paused && !playing")
    paused = animation_frames_over(page, 500)

    # A step while paused moves both and redraws once, without starting the clock.
    shown = read(page, "root.querySelector('[data-role=\"time\"]').value")
    page.keyboard.press("ArrowRight")
    settle(page)
    stepped = read(page, "root.querySelector('[data-role=\"time\"]').value")
    after_step = animation_frames_over(page, 500)

    # Played to the end, the leader stops on its last frame and so does the clock.
    scrub_to(page, 7.5)
    page.click('[data-action="toggle"]')
    page.wait_for_function(f"() => {{ {SEEN} return !playing; }}", polling=POLL_MS, timeout=5_000)
    at_end = animation_frames_over(page, 500)

    assert paused == 0, f"paused, the page still asked for {paused} animation frames in 500 ms"
    assert stepped != shown and after_step == 0, (shown, stepped, after_step)
    assert at_end == 0, f"after the end, the page still asked for {at_end} animation frames in 500 ms"
    expect(page.locator('[data-action="toggle"]')).to_have_attribute("aria-label", "Play both")
    assert read(page, "root.querySelector('[data-role=\"time\"]').value") == "00:07:23"


def test_the_page_ships_no_test_hook(owner_page, clips):
    page = owner_page
    page.goto(f"/projects/{clips.project_id}/")
    elsewhere = set(page.evaluate("Object.keys(window)"))
    open_compare(page, clips, clips.draft, clips.final)
    assert page.evaluate("typeof window.dailies") == "undefined"
    assert read(page, "root.dailies === undefined")
    # The player's modules add nothing to the window that other pages do not have.
    assert set(page.evaluate("Object.keys(window)")) - elsewhere == set()


def test_sync_engine_nudges_holds_or_lines_up_by_the_size_of_the_drift(page):
    """The engine's arithmetic, imported on its own: no page, no players."""
    page.goto("/login/")
    seen = page.evaluate(
        """async () => {
            const { correction } = await import('/static/js/compare/sync.js');
            const { frameOf, timeOfFrame, timecode } = await import('/static/js/compare/frames.js');
            const decide = (drift, aheadHasSound = false) =>
                correction(drift, { frame: 1 / 24, rate: 1, aheadHasSound });
            return {
                inSync: decide(0.004), behind: decide(-0.010), ahead: decide(0.010),
                silentFar: decide(0.020), soundingFar: decide(0.020, true), lost: decide(0.3),
                halfSpeedBehind: correction(-0.010, { frame: 1 / 24, rate: 0.5, aheadHasSound: false }),
                frameAtOneSecond: frameOf(1, 24), pastTheEnd: timeOfFrame(500, 192, 24),
                timecode: timecode(47, 24),
            };
        }"""
    )
    assert seen["inSync"] == {"action": "nudge", "rate": 1}  # within an eighth of a frame: exact speed
    assert seen["behind"] == {"action": "nudge", "rate": 1.03}
    assert seen["ahead"] == {"action": "nudge", "rate": 0.97}
    assert seen["halfSpeedBehind"] == {"action": "nudge", "rate": 0.515}
    assert seen["silentFar"] == {"action": "wait"}  # past a third of a frame, the silent clip ahead holds
    assert seen["soundingFar"] == {"action": "nudge", "rate": 0.94}  # sound never waits; the nudge is capped
    assert seen["lost"] == {"action": "realign"}
    assert seen["frameAtOneSecond"] == 24
    assert seen["pastTheEnd"] == pytest.approx(191 / 24 + INTO_FRAME)
    assert seen["timecode"] == "00:01:23"
