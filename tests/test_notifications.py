"""Notifications: who is told of what, the inbox and its access, the header's live count, and the batched e-mail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from studio.clips.models import Clip
from studio.projects.models import Membership
from studio.review import notifications
from studio.review.models import Notification
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def clip(project, people, pending_task, archived_clip):
    """A done draft the editor made."""
    return archived_clip(pending_task(project, people["editor"]))


def comment(client, clip, text: str):
    answer = client.post(f"/clips/{clip.pk}/comments/add", {"text": text}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200, answer.content.decode()[:500]


def review(client, project, clip, status: str, note: str = ""):
    answer = client.post(f"/projects/{project.pk}/gallery/review", {"review": status, "clip": clip.pk, "note": note})
    assert answer.status_code == 302


def badge_count(html: str) -> int:
    """The unread count the header's Inbox link shows (and sends with the page's refresh)."""
    link = re.search(r'<a id="inbox-badge".*?</a>', html, re.S)
    assert link, "no Inbox link in the header"
    count = re.search(r'name="unread" form="live-cards" value="(\d+)"', link.group(0))
    assert count, "the Inbox link does not tell the refresh its count"
    return int(count.group(1))


def told(user, kind: str | None = None) -> list[str]:
    mine = Notification.objects.filter(user=user)
    return list((mine.filter(kind=kind) if kind else mine).values_list("words", flat=True))


# --- The inbox ---------------------------------------------------------------------------------------------


def test_a_mention_lands_unread_in_the_inbox_and_opening_it_reads_it_and_goes_to_the_comment(clients, clip):
    comment(clients["reviewer"], clip, "@owner the horizon tilts")
    owner = clients["owner"]
    assert badge_count(owner.get("/").content.decode()) == 1
    page = owner.get("/inbox/").content.decode()
    note = Notification.objects.get()
    assert "reviewer mentioned you: “@owner the horizon tilts”" in page
    assert f'id="notification-{note.pk}" class="notification kind-mention unread"' in page and "1 unread" in page
    answer = owner.get(f"/inbox/{note.pk}/open")
    assert answer.status_code == 302 and answer["Location"] == f"/clips/{clip.pk}/#comment-{note.comment_id}"
    note.refresh_from_db()
    assert note.read_at is not None
    assert badge_count(owner.get("/inbox/").content.decode()) == 0


def test_someone_elses_notification_is_404_and_the_anonymous_are_sent_to_log_in(clients, people, clip):
    comment(clients["reviewer"], clip, "@owner look")
    note = Notification.objects.get()
    for role in ("editor", "viewer", "outsider"):
        assert clients[role].get(f"/inbox/{note.pk}/open").status_code == 404
        assert f"notification-{note.pk}" not in clients[role].get("/inbox/").content.decode()
    assert Client().get(f"/inbox/{note.pk}/open")["Location"].startswith("/login/")
    assert clients["owner"].get("/inbox/999999/open").status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_a_member_who_left_no_longer_sees_or_counts_that_projects_notifications(clients, people, project, clip):
    comment(clients["reviewer"], clip, "@viewer see this")
    note = Notification.objects.get(user=people["viewer"])
    Membership.objects.filter(project=project, user=people["viewer"]).delete()
    viewer = clients["viewer"]
    assert badge_count(viewer.get("/").content.decode()) == 0
    assert "see this" not in viewer.get("/inbox/").content.decode()
    assert viewer.get(f"/inbox/{note.pk}/open").status_code == 404


def test_newest_first_fifty_to_a_page(clients, people, project):
    owner = people["owner"]
    start = timezone.now() - timedelta(hours=2)
    Notification.objects.bulk_create(
        Notification(
            user=owner,
            project=project,
            kind="status",
            words=f"note {n}",
            link="/",
            created_at=start + timedelta(minutes=n),
        )
        for n in range(60)
    )
    first = clients["owner"].get("/inbox/").content.decode()
    words = re.findall(r">note (\d+)<", first)
    assert words == [str(n) for n in range(59, 9, -1)] and "Page 1 of 2" in first and "?page=2" in first
    second = clients["owner"].get("/inbox/?page=2").content.decode()
    assert re.findall(r">note (\d+)<", second) == [str(n) for n in range(9, -1, -1)]


def test_mark_all_read_reads_only_your_own(clients, people, clip):
    comment(clients["reviewer"], clip, "@owner and @editor, the sky")
    answer = clients["owner"].post("/inbox/read-all")
    assert answer.status_code == 302 and answer["Location"] == "/inbox/"
    assert Notification.objects.get(user=people["owner"]).read_at is not None
    assert Notification.objects.get(user=people["editor"]).read_at is None
    assert clients["owner"].get("/inbox/read-all").status_code == 405


def test_words_are_shown_escaped(clients, clip):
    comment(clients["reviewer"], clip, "@owner <script>alert(1)</script>")
    page = clients["owner"].get("/inbox/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_link_that_is_not_a_path_on_this_site_goes_back_to_the_inbox(clients, people, project):
    note = Notification.objects.create(
        user=people["owner"], project=project, kind="status", words="x", link="https://elsewhere.example/"
    )
    assert clients["owner"].get(f"/inbox/{note.pk}/open")["Location"] == "/inbox/"


# --- Status changes ----------------------------------------------------------------------------------------


def test_the_clips_maker_is_told_when_someone_else_approves_asks_for_changes_or_puts_it_back(
    clients, people, project, clip
):
    review(clients["reviewer"], project, clip, "approved")
    review(clients["owner"], project, clip, "changes", note="Slower push in")
    review(clients["reviewer"], project, clip, "needs_review")
    task = clip.task
    assert told(people["editor"], "status") == [
        f"reviewer put your draft #{task.pk} back to review",
        f"owner asked for changes on your draft #{task.pk}: “Slower push in”",
        f"reviewer approved your draft #{task.pk}",
    ]
    assert Notification.objects.filter(kind="status").exclude(user=people["editor"]).count() == 0
    assert Notification.objects.filter(kind="status").first().link == f"/clips/{clip.pk}/"


def test_nobody_is_told_of_their_own_review_nor_of_the_same_status_again(clients, people, project, clip):
    review(clients["editor"], project, clip, "approved")
    assert told(people["editor"]) == []
    review(clients["reviewer"], project, clip, "approved")
    assert told(people["editor"]) == []  # it was approved already


def test_a_guest_review_tells_the_maker_under_the_guests_name(people, clip):
    Clip.objects.filter(pk=clip.pk).update(review_status="changes", review_note="Ana (guest): warmer light")
    clip.refresh_from_db()
    notifications.status_changed(clip, by_name="Ana (guest)", note="warmer light")
    assert told(people["editor"]) == [f"Ana (guest) asked for changes on your draft #{clip.task_id}: “warmer light”"]


def test_a_maker_who_left_the_project_is_not_told(clients, people, project, clip):
    Membership.objects.filter(project=project, user=people["editor"]).delete()
    review(clients["reviewer"], project, clip, "approved")
    assert Notification.objects.count() == 0


# --- The header's count, live with the page's one refresh ---------------------------------------------------


def cards_followed(html: str) -> list[str]:
    return re.findall(r'class="live-card" name="card" form="live-cards" value="([^"]+)"', html)


def test_the_count_rides_on_the_one_refresh_and_an_unchanged_count_still_answers_204(
    clients, people, project, pending_task, clip
):
    pending_task(project, people["owner"])
    owner = clients["owner"]
    page = owner.get(f"/projects/{project.pk}/").content.decode()
    assert page.count('hx-trigger="every') == 1 and badge_count(page) == 0
    cards = cards_followed(page)
    live = f"/projects/{project.pk}/live"
    assert owner.get(live, {"card": cards, "unread": "0"}).status_code == 204

    comment(clients["reviewer"], clip, "@owner new note")
    answer = owner.get(live, {"card": cards, "unread": "0"})
    html = answer.content.decode()
    assert answer.status_code == 200 and "<article" not in html
    assert 'id="inbox-badge"' in html and 'hx-swap-oob="true"' in html and badge_count(html) == 1
    assert owner.get(live, {"card": cards, "unread": "1"}).status_code == 204
    # A refresh that does not send a count (an older page) is answered as before.
    assert owner.get(live, {"card": cards}).status_code == 204


def test_a_changed_card_and_a_changed_count_come_back_together(clients, people, project, pending_task, clip):
    task = pending_task(project, people["owner"])
    owner = clients["owner"]
    cards = cards_followed(owner.get(f"/projects/{project.pk}/").content.decode())
    Task.objects.filter(pk=task.pk).update(state=Task.State.RUNNING, progress=40)
    comment(clients["reviewer"], clip, "@owner both")
    html = owner.get(f"/projects/{project.pk}/live", {"card": cards, "unread": "0"}).content.decode()
    assert html.count("<article") == 1 and badge_count(html) == 1


# --- Finished finals ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_finished_final_tells_the_drafts_author_and_the_promoter_once_each(
    simulator, people, project, run_worker, pending_task
):
    (draft,) = run_worker(pending_task(project, people["editor"]).pk)
    assert draft.state == "done", draft.error_message
    assert Notification.objects.count() == 0  # a finished draft is nobody's news
    final, _created = lifecycle.promote(draft=draft, user=people["owner"])
    (final,) = run_worker(final.pk)
    assert final.state == "done", final.error_message
    assert told(people["editor"], "final") == [f"Final #{final.pk} of your draft #{draft.pk} is finished: “t”"]
    assert told(people["owner"], "final") == [f"Final #{final.pk} you promoted is finished: “t”"]
    assert Notification.objects.get(user=people["owner"]).link == f"/clips/{final.clip.pk}/"
    # An archive that runs again (or a second worker's signal) tells nobody twice.
    notifications.on_final_archived(Task, task=final, clip=final.clip)
    assert Notification.objects.filter(kind="final").count() == 2


def test_one_person_who_drafted_and_promoted_is_told_once(people, project, pending_task, archived_clip):
    draft = pending_task(project, people["editor"])
    archived_clip(draft)
    final = pending_task(project, people["editor"], kind="final", promoted_from=draft)
    clip = archived_clip(final)
    notifications.final_finished(final, clip)
    notifications.final_finished(final, clip)
    assert told(people["editor"]) == [f"Final #{final.pk} you promoted from your draft #{draft.pk} is finished: “t”"]


# --- E-mail ------------------------------------------------------------------------------------------------


@pytest.fixture
def owner_wants_email(clients, people):
    people["owner"].email = "owner@example.com"
    people["owner"].save()
    answer = clients["owner"].post("/inbox/settings", {"email": "on"})
    assert answer.status_code == 302
    assert notifications.wants_email(people["owner"])


def test_the_inbox_offers_the_email_setting_and_saves_it(clients, people, owner_wants_email):
    page = clients["owner"].get("/inbox/").content.decode()
    assert 'name="email" checked' in page and "owner@example.com" in page
    clients["owner"].post("/inbox/settings", {})
    assert not notifications.wants_email(people["owner"])


def test_a_burst_of_five_comments_is_one_email_listing_five_and_a_second_run_sends_nothing(
    settings, clients, clip, owner_wants_email
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for n in range(5):
        comment(clients["reviewer"], clip, f"@owner note {n}")
    # Still in the burst: nothing goes out until it has been quiet for two minutes.
    assert notifications.send_batched_emails() == 0 and mail.outbox == []
    later = timezone.now() + notifications.QUIET_PERIOD + timedelta(seconds=1)
    assert notifications.send_batched_emails(now=later) == 1
    assert notifications.send_batched_emails(now=later) == 0
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"] and message.subject == "Dailies: 5 notifications"
    assert [f"note {n}" in message.body for n in range(5)] == [True] * 5
    assert message.body.count("/inbox/") == 6  # each one's link, and the inbox
    assert Notification.objects.filter(emailed_at__isnull=True).count() == 0


def test_only_members_who_asked_are_emailed_and_what_they_read_first_is_not_sent(
    settings, clients, people, clip, owner_wants_email
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    people["editor"].email = "editor@example.com"
    people["editor"].save()
    comment(clients["reviewer"], clip, "@owner @editor read this")
    comment(clients["reviewer"], clip, "@owner and this")
    clients["owner"].get(f"/inbox/{Notification.objects.filter(user=people['owner']).last().pk}/open")
    later = timezone.now() + timedelta(minutes=3)
    assert notifications.send_batched_emails(now=later) == 1
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"] and "and this" in message.body and "read this" not in message.body


def test_a_conversation_that_never_pauses_is_still_emailed_after_the_longest_wait(
    settings, clients, people, project, owner_wants_email
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = timezone.now()
    for minutes in (20, 10, 1):
        Notification.objects.create(
            user=people["owner"],
            project=project,
            kind="status",
            words=f"{minutes} ago",
            link="/",
            created_at=now - timedelta(minutes=minutes),
        )
    assert notifications.send_batched_emails(now=now) == 1 and "1 ago" in mail.outbox[0].body


def test_two_workers_never_send_one_notification_twice(settings, clients, clip, owner_wants_email, people):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    comment(clients["reviewer"], clip, "@owner once")
    later = timezone.now() + timedelta(minutes=3)
    # The second worker read the same pending rows, but its conditional UPDATE finds them taken.
    assert notifications._email_one(people["owner"].pk, now=later) == 1
    assert notifications._email_one(people["owner"].pk, now=later) == 0
    assert len(mail.outbox) == 1


def test_an_email_server_that_fails_gives_the_notifications_back_for_the_next_run(
    settings, clients, clip, owner_wants_email
):
    settings.EMAIL_BACKEND = "tests.test_notifications.BrokenBackend"
    comment(clients["reviewer"], clip, "@owner later")
    later = timezone.now() + timedelta(minutes=3)
    assert notifications.send_batched_emails(now=later) == 0
    assert Notification.objects.get().emailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications.send_batched_emails(now=later) == 1 and len(mail.outbox) == 1


class BrokenBackend:
    def __init__(self, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server")


def test_the_schedule_runs_every_minute():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="dailies-notification-emails")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "studio.review.notifications.email_notifications",
        "I",
        1,
    )
