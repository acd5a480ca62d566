"""One refresh per open page: it sends the cards in flight and gets back only those that changed."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from studio.tasks.models import Task

pytestmark = pytest.mark.django_db


def followed(html: str) -> list[str]:
    """The `card` values a page (or a refresh's answer) carries."""
    return re.findall(r'class="live-card" name="card" form="live-cards" value="([^"]+)"', html)


@pytest.fixture
def three_live(project, people, pending_task):
    return [pending_task(project, people["owner"]) for _ in range(3)]


def test_a_page_with_live_cards_has_one_refresh_and_no_card_polls(project, clients, three_live):
    html = clients["viewer"].get(f"/projects/{project.pk}/").content.decode()
    assert html.count('hx-trigger="every') == 1 and 'id="live-cards"' in html
    assert sorted(int(v.split(":")[0]) for v in followed(html)) == sorted(t.pk for t in three_live)


def test_an_unchanged_refresh_answers_204_with_no_card_html(project, clients, three_live):
    client = clients["viewer"]
    cards = followed(client.get(f"/projects/{project.pk}/").content.decode())
    answer = client.get(f"/projects/{project.pk}/live", {"card": cards})
    assert answer.status_code == 204 and answer.content == b""


def test_only_the_card_that_changed_comes_back_out_of_band(project, clients, three_live):
    client = clients["viewer"]
    cards = followed(client.get(f"/projects/{project.pk}/").content.decode())
    moved = three_live[1]
    Task.objects.filter(pk=moved.pk).update(state=Task.State.RUNNING, progress=40)
    answer = client.get(f"/projects/{project.pk}/live", {"card": cards})
    html = answer.content.decode()
    assert answer.status_code == 200 and html.count("<article") == 1
    assert f'id="task-{moved.pk}"' in html and 'hx-swap-oob="true"' in html and "Rendering" in html
    # The card it sent carries its new digest, so the next refresh is quiet again.
    again = client.get(f"/projects/{project.pk}/live", {"card": [*cards[:1], *followed(html), *cards[2:]]})
    assert again.status_code == 204


def test_a_card_that_ended_leaves_the_refresh_which_stops_when_none_is_live(project, clients, three_live):
    client = clients["viewer"]
    cards = followed(client.get(f"/projects/{project.pk}/").content.decode())
    Task.objects.filter(pk__in=[t.pk for t in three_live]).update(state=Task.State.FAILED, error_message="no")
    html = client.get(f"/projects/{project.pk}/live", {"card": cards}).content.decode()
    assert html.count("<article") == 3 and followed(html) == []
    # The page no longer asks: each tick of the refresh waits for a followed card (static/js/studio.js).
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert followed(page) == [] and 'data-while-followed=".live-card"' in page


def test_a_compact_grid_card_comes_back_compact_for_the_grid(project, clients, three_live):
    task = three_live[0]
    Task.objects.filter(pk=task.pk).update(progress=10)
    html = clients["viewer"].get(f"/projects/{project.pk}/live", {"card": f"{task.pk}:stale:cg"}).content.decode()
    # Still followed, as a compact grid card.
    assert 'class="task-card state-pending kind-draft compact"' in html and followed(html)[0].endswith(":cg")


def test_cards_of_other_projects_and_malformed_values_are_ignored(project, clients, make_project, people, pending_task):
    elsewhere = pending_task(make_project(people, name="Elsewhere"), people["owner"])
    answer = clients["viewer"].get(
        f"/projects/{project.pk}/live", {"card": [f"{elsewhere.pk}:stale:", "x:y", "", "12"]}
    )
    assert answer.status_code == 204


def test_outsiders_and_the_anonymous_get_no_cards(project, clients, three_live):
    url = f"/projects/{project.pk}/live"
    assert clients["outsider"].get(url, {"card": f"{three_live[0].pk}:stale:"}).status_code == 404
    assert Client().get(url).status_code == 302
