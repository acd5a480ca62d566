"""Watching and reviewing on a phone (390×844): the compare page stacks its two players and keeps their
labels, metadata reads as lines rather than one word per line, and the gallery and clip pages fit."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import _log_in, _screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, studio, clips):
    """A phone-sized tab (touch, mobile viewport), signed in as the owner."""
    context = browser.new_context(
        base_url=studio.url, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _log_in(page, "owner")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found, f"{locator} is not on the page"
    return found


def fits_the_width(page) -> None:
    """Nothing makes the page scroll sideways."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"


def lines_of(locator) -> int:
    """How many lines of text an element's content takes."""
    return locator.evaluate(
        """element => {
            const range = document.createRange();
            range.selectNodeContents(element);
            const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
            return tops.size;
        }"""
    )


def test_the_compare_page_on_a_phone_stacks_the_players_and_keeps_their_labels(phone, clips, screenshots):
    phone.goto(f"/projects/{clips.project_id}/compare?a={clips.draft.pk}&b={clips.final.pk}")
    phone.wait_for_function("() => !document.querySelector('.compare-side.is-loading')")
    left = phone.locator('.compare-side[data-position="left"]')
    right = phone.locator('.compare-side[data-position="right"]')
    a, b = box(left), box(right)
    # One above the other, each the width of the screen (less the page's margins).
    assert b["y"] >= a["y"] + a["height"] - 1, (a, b)
    assert abs(a["x"] - b["x"]) < 1 and a["width"] > PHONE["width"] * 0.8 and b["width"] > PHONE["width"] * 0.8
    # Each picture carries its side's tag, and its label says what it is, right with it.
    for side, clip in ((left, clips.draft), (right, clips.final)):
        tag = side.locator('[data-role="tag"]')
        expect(tag).to_be_visible()
        label = side.locator('[data-role="label"]')
        expect(label).to_be_visible()
        expect(label).to_contain_text(f"{clip.task.get_kind_display()} #{clip.task.pk}")
        tag_box, label_box, picture = box(tag), box(label), box(side)
        assert picture["y"] <= tag_box["y"] and tag_box["y"] + tag_box["height"] <= picture["y"] + picture["height"]
        assert label_box["width"] > 0 and label_box["x"] + label_box["width"] <= PHONE["width"]
    expect(left.locator('[data-role="tag"]')).to_have_text("A")
    expect(right.locator('[data-role="tag"]')).to_have_text("B")
    # The bars under the pictures: names whole (not cut off), metadata on one or two lines, not a word a line.
    for bar in phone.locator(".side-bar").all():
        title = bar.locator(".side-title")
        assert title.evaluate("element => element.scrollWidth <= element.clientWidth + 1"), title.inner_text()
        assert lines_of(bar.locator(".meta")) <= 2
    for cell in phone.locator(".parameter-diff td").all():
        words = len(cell.inner_text().split())
        assert lines_of(cell) <= max(1, words - 1) or words == 1, cell.inner_text()
    fits_the_width(phone)
    _screenshot(phone, screenshots / "compare-phone.png")
    # Wiped into one frame, the two halves keep their tags, at either edge.
    phone.get_by_role("button", name="Wipe").click()
    expect(left.locator('[data-role="tag"]')).to_be_visible()
    expect(right.locator('[data-role="tag"]')).to_be_visible()
    assert box(right.locator('[data-role="tag"]'))["x"] > box(left.locator('[data-role="tag"]'))["x"] + 100
    fits_the_width(phone)
    _screenshot(phone, screenshots / "compare-phone-wipe.png")


def test_the_gallery_and_a_clip_page_fit_a_phone(phone, clips, screenshots):
    phone.goto(f"/projects/{clips.project_id}/gallery")
    expect(phone.locator("video, img").first).to_be_visible()
    fits_the_width(phone)
    _screenshot(phone, screenshots / "gallery-phone.png")
    phone.goto(f"/clips/{clips.final.pk}/")
    video = phone.locator("video").first
    expect(video).to_be_visible()
    assert box(video)["width"] > PHONE["width"] * 0.8
    fits_the_width(phone)
    _screenshot(phone, screenshots / "clip-phone.png")
