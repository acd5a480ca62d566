"""The Content-Security-Policy in a real browser: the pages people use most break none of it.

The policy allows only our own scripts and styles. Chromium reports anything it blocks (an inline
script, a style attribute, an inline handler, an eval) as a `securitypolicyviolation` event and a
console message; htmx reports an expression it refused to evaluate as an event of its own.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The test's own listener, added before any page script runs.
LISTEN = """
window.__blocked = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__blocked.push(`${event.violatedDirective}: ${event.blockedURI || "inline"} (${where})`);
});
for (const name of ["htmx:evalDisallowedError", "htmx:eventFilter:error"]) {
  document.addEventListener(name, () => window.__blocked.push(name));
}
"""


@pytest.fixture
def watched(owner_page):
    """The owner's tab, recording every violation of the policy and every console message about one."""
    page = owner_page
    page.context.add_init_script(LISTEN)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    return page, console


def blocked(page, console: list[str]) -> list[str]:
    in_console = [text for text in console if "Content Security Policy" in text or "Content-Security-Policy" in text]
    return page.evaluate("window.__blocked") + in_console


def test_the_project_page_gallery_compare_and_spend_break_no_part_of_the_policy(watched, clips):
    page, console = watched
    project = f"/projects/{clips.project_id}"

    page.goto(f"{project}/")
    page.wait_for_function("() => document.querySelector('#draft-quote').textContent.trim() !== '…'")  # over htmx
    page.hover(".task-card [data-player] video")
    page.wait_for_timeout(1500)  # a tick or two of the live refresh
    assert page.locator("#draft-panel button[type=submit]").is_enabled()
    assert blocked(page, console) == [], "project page"

    page.goto(f"{project}/gallery")
    page.hover(".gallery-item video")
    # Sized from its width and height attributes before any of it has loaded, not 2:1.
    box = page.locator(".gallery-item video").first.bounding_box()
    assert box and abs(box["width"] / box["height"] - 16 / 9) < 0.02
    assert blocked(page, console) == [], "gallery"

    page.goto(f"{project}/compare?a={clips.draft.pk}&b={clips.final.pk}")
    page.wait_for_selector(".compare-side:not(.is-loading) video")
    page.click("button[data-action=mode][data-mode=wipe]")
    stage = page.locator(".compare-stage")
    assert stage.evaluate("el => getComputedStyle(el).aspectRatio").replace(" ", "") in {"1280/720", "16/9"}
    assert blocked(page, console) == [], "compare"

    page.goto(f"{project}/spend")
    page.wait_for_selector(".spend-chart")
    assert blocked(page, console) == [], "spend"

    # And the watch does see what the policy blocks: a style attribute set from a script.
    page.evaluate("document.body.setAttribute('style', 'outline: 1px solid red')")
    page.wait_for_function("() => window.__blocked.length > 0")
    assert any(entry.startswith("style-src") for entry in blocked(page, console))
