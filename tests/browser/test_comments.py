"""Comments in a real browser: an editor marks frame 48 of a final and draws an arrow on it; a reviewer
on the compare page sees the comment's marker, clicks it, and both players land on frame 48 with the
arrow over the final."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studio.review.models import Comment

from .conftest import _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FPS = 24
FRAME = 48


def loaded(page) -> None:
    page.wait_for_function("() => [...document.querySelectorAll('video')].every((v) => v.readyState >= 2)")


def test_a_comment_at_frame_48_with_an_arrow_lands_both_compare_players_there(browser, studio, clips, screenshots):
    editor = browser.new_context(base_url=studio.url, viewport={"width": 1440, "height": 900}).new_page()
    errors: list[str] = []
    editor.on("pageerror", lambda error: errors.append(str(error)))
    _log_in(editor, "editor")
    editor.goto(f"/clips/{clips.final.pk}/")
    loaded(editor)
    editor.locator("video").evaluate(f"(video) => {{ video.pause(); video.currentTime = {FRAME} / {FPS} + 0.001; }}")
    editor.wait_for_function(
        f"() => {{ const v = document.querySelector('video');"
        f" return !v.seeking && Math.floor(v.currentTime * {FPS} + 1e-6) === {FRAME}; }}"
    )
    panel = editor.locator(f"#comments-{clips.final.pk}")
    panel.locator("[data-action=mark-in]").click()
    expect(panel.locator("[data-role=at]")).to_contain_text(f"Frame {FRAME}")
    panel.locator("[data-action=draw]").click()
    layer = editor.locator("canvas.drawing-layer.is-drawing")
    expect(layer).to_be_visible()
    layer.scroll_into_view_if_needed()
    box = layer.bounding_box()
    editor.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.3)
    editor.mouse.down()
    editor.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.5, steps=8)
    editor.mouse.up()
    expect(panel.locator("[data-role=shapes]")).to_have_text("1 shape")
    panel.locator("textarea[name=text]").fill("The lighthouse beam should sweep here, not flicker.")
    panel.locator("button[type=submit]").click()
    expect(panel.locator("li.comment")).to_have_count(1)
    comment = Comment.objects.get()
    assert comment.frame_in == FRAME and comment.author.username == "editor"
    assert [shape["type"] for shape in comment.drawing] == ["arrow"]
    start, end = comment.drawing[0]["from"], comment.drawing[0]["to"]
    assert abs(start[0] - 0.25) < 0.03 and abs(end[1] - 0.5) < 0.03
    assert not errors, errors

    reviewer = browser.new_context(base_url=studio.url, viewport={"width": 1440, "height": 900}).new_page()
    reviewer.on("pageerror", lambda error: errors.append(str(error)))
    _log_in(reviewer, "reviewer")
    reviewer.goto(f"/projects/{clips.project_id}/compare?a={clips.draft.pk}&b={clips.final.pk}")
    reviewer.wait_for_function("() => !document.querySelector('.compare-side.is-loading')")
    marker = reviewer.locator(f".comment-marker[data-frame='{FRAME}']")
    expect(marker).to_be_visible()
    marker.click()
    reviewer.wait_for_function(
        f"() => [...document.querySelectorAll('[data-compare] video')].every((v) => !v.seeking"
        f" && Math.abs(v.currentTime - {FRAME} / {FPS}) < 1 / {FPS})"
    )
    times = reviewer.evaluate("() => [...document.querySelectorAll('[data-compare] video')].map((v) => v.currentTime)")
    assert all(abs(t - FRAME / FPS) < 1 / FPS for t in times), times
    # The arrow is drawn over the final (B), and only there.
    final_layer = reviewer.locator(f"[data-compare] video[src*='/clips/{clips.final.pk}/video'] + canvas.drawing-layer")
    expect(final_layer).to_have_attribute("data-showing", str(comment.pk))
    assert (
        reviewer.locator(f"[data-compare] video[src*='/clips/{clips.draft.pk}/video'] + canvas[data-showing]").count()
        == 0
    )
    # The arrow really is painted: pixels at its middle are the arrow's red.
    red = final_layer.evaluate(
        "(canvas) => { const c = canvas.getContext('2d'); const d = c.getImageData("
        "Math.round(canvas.width * 0.4), Math.round(canvas.height * 0.4), 1, 1).data;"
        " return [d[0], d[1], d[2], d[3]]; }"
    )
    assert red[3] > 0 and red[0] > 200, red
    screenshots.mkdir(parents=True, exist_ok=True)
    reviewer.screenshot(path=str(screenshots / "comment-on-compare.png"))
    # Seeking away hides it; the comment's own timecode brings it back.
    reviewer.locator("[data-compare] input[data-action=seek]").evaluate(
        "(bar) => { bar.value = '10'; bar.dispatchEvent(new Event('input', {bubbles: true}));"
        " bar.dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    expect(final_layer).not_to_have_attribute("data-showing", str(comment.pk))
    reviewer.locator(f"#comment-{comment.pk} button.timecode").click()
    expect(final_layer).to_have_attribute("data-showing", str(comment.pk))
    assert not errors, errors
