"""The editor's image inputs are drop zones: a click or a drop chooses the image, which shows at once as a
preview, and kept images keep their thumbnails and their keep boxes."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from studio.tasks.models import Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# In the page: a real PNG of this size, made on a canvas, handed over as a drop would.
DROP = """async ([selector, width, height, name, type]) => {
    const canvas = Object.assign(document.createElement('canvas'), {width, height});
    canvas.getContext('2d').fillRect(0, 0, width, height);
    const blob = type === 'image/png'
        ? await new Promise(done => canvas.toBlob(done, type))
        : new Blob(['words'], {type});
    const carried = new DataTransfer();
    carried.items.add(new File([blob], name, {type}));
    const zone = document.querySelector(selector);
    const drag = kind => zone.dispatchEvent(
        new DragEvent(kind, {bubbles: true, cancelable: true, dataTransfer: carried}));
    drag('dragenter');
    drag('dragover');
    const over = zone.classList.contains('is-over');
    drag('drop');
    return over;
}"""


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def open_image_fields(page, clips) -> None:
    page.goto(f"/projects/{clips.project_id}/")
    # The images sit in a folded section of the editor: open whichever holds them.
    page.locator("details:has(.image-drop)").evaluate_all("sections => sections.forEach(s => s.open = true)")
    expect(page.locator(".field-first_frame .image-drop")).to_be_visible()


def test_an_image_input_is_a_zone_the_hidden_input_covers(owner_page, clips, screenshots):
    page = owner_page
    open_image_fields(page, clips)
    zone = page.locator(".field-first_frame .image-drop")
    expect(zone).to_contain_text("Choose an image or drop it here")
    expect(page.locator(".field-references .image-drop")).to_contain_text("Choose images or drop them here")
    field = zone.locator("input[type=file]")
    assert field.evaluate("input => getComputedStyle(input).opacity") == "0"
    assert field.bounding_box() == zone.bounding_box() or all(
        abs(field.bounding_box()[k] - zone.bounding_box()[k]) < 3 for k in ("x", "y", "width", "height")
    )
    # The label still names the real input.
    expect(page.get_by_label("First frame")).to_have_attribute("type", "file")


def test_a_chosen_image_shows_at_once_and_can_be_removed(owner_page, clips, screenshots):
    page = owner_page
    open_image_fields(page, clips)
    page.get_by_label("First frame").set_input_files(
        {"name": "harbour.png", "mimeType": "image/png", "buffer": png(1280, 720)}
    )
    chosen = page.locator('[data-chosen-for="id_first_frame"]')
    expect(chosen).to_be_visible()
    expect(chosen.locator("figcaption")).to_contain_text("harbour.png")
    expect(chosen.locator("figcaption")).to_contain_text("1280×720")
    assert chosen.locator("img").get_attribute("src").startswith("blob:")
    # Above the editor's sticky Draft bar, the whole images section as a user sees it.
    section = page.locator("details:has(.image-drop)").first
    section.evaluate("section => section.scrollIntoView({block: 'start'})")
    section.screenshot(path=str(screenshots / "image-drop-chosen.png"))
    chosen.get_by_role("button", name="Remove").click()
    expect(chosen).to_be_hidden()
    assert page.get_by_label("First frame").evaluate("input => input.files.length") == 0


def test_a_dropped_image_is_chosen_and_anything_else_is_refused(owner_page, clips):
    page = owner_page
    open_image_fields(page, clips)
    last = page.get_by_label("Last frame")
    over = page.evaluate(DROP, [".field-last_frame .image-drop", 300, 500, "portrait.png", "image/png"])
    assert over, "the zone did not light up while a file was over it"
    assert last.evaluate("input => input.files.length && input.files[0].name") == "portrait.png"
    chosen = page.locator('[data-chosen-for="id_last_frame"]')
    expect(chosen.locator("figcaption")).to_contain_text("300×500")
    # The editor heard the change: a portrait last frame on a 16:9 draft is flagged before the quote.
    expect(page.locator("[data-image-warning]").first).to_contain_text("(portrait)")
    # Not an image: refused in words, the choice so far left as it was.
    page.evaluate(DROP, [".field-last_frame .image-drop", 1, 1, "notes.txt", "text/plain"])
    expect(chosen).to_contain_text("Only JPG, PNG or WebP images")
    assert last.evaluate("input => input.files[0].name") == "portrait.png"
    expect(chosen.locator("figcaption")).to_contain_text("portrait.png")
    # A single-image field keeps one of several dropped; the references field takes them all.
    for name in ("a.png", "b.png"):
        page.evaluate(DROP, [".field-references .image-drop", 64, 64, name, "image/png"])
    assert page.get_by_label("Reference images").evaluate("input => input.files.length") == 1


def test_kept_images_keep_their_thumbnails_and_keep_boxes(owner_page, clips, screenshots):
    page = owner_page
    open_image_fields(page, clips)
    page.get_by_label("First frame").set_input_files(
        {"name": "harbour.png", "mimeType": "image/png", "buffer": png(1280, 720)}
    )
    before = Task.objects.count()
    page.get_by_role("button", name="Draft", exact=True).click()
    for _ in range(100):
        if Task.objects.count() > before:
            break
        page.wait_for_timeout(100)
    drafted = Task.objects.order_by("-pk").first()
    assert drafted is not None
    image_id = drafted.parameters.get("first_frame")
    assert isinstance(image_id, int), drafted.parameters
    page.goto(f"/projects/{clips.project_id}/?from_task={drafted.pk}")
    page.locator("details:has(.image-drop)").evaluate_all("sections => sections.forEach(s => s.open = true)")
    kept = page.locator(".field-first_frame .kept-image")
    expect(kept.locator("img")).to_be_visible()
    hidden = page.locator("input[name=first_frame_id]")
    assert hidden.input_value() == str(image_id)
    kept.locator("input[type=checkbox]").uncheck()
    assert hidden.input_value() == ""
    kept.locator("input[type=checkbox]").check()
    assert hidden.input_value() == str(image_id)
    page.locator(".field-first_frame").screenshot(path=str(screenshots / "image-drop-kept.png"))
