"""Projects and their teams: create, rename, archive, delete; invite by name or address; roles; always an owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from studio.clips.models import Clip
from studio.projects import team
from studio.projects.models import Invitation, Membership, Project

pytestmark = pytest.mark.django_db
Role = Membership.Role


# --- Projects ------------------------------------------------------------------


def test_anyone_signed_in_creates_a_project_they_own_wired_to_the_simulator(clients, settings):
    settings.SIMULATOR_FOR_NEW_PROJECTS = True
    answer = clients["outsider"].post("/projects/new", {"name": "  Night ferry  ", "description": "Teaser"})
    project = Project.objects.get(name="Night ferry")
    assert answer.status_code == 302 and answer["Location"] == f"/projects/{project.pk}/"
    owner = Membership.objects.get(project=project)
    assert owner.user.username == "outsider" and owner.role == Role.OWNER and project.description == "Teaser"
    assert project.draft_account == project.final_account
    assert project.draft_account.is_simulator and project.draft_account.api_key.startswith("sim-")


def test_a_team_deployment_leaves_a_new_projects_accounts_to_its_owner(clients, settings):
    settings.SIMULATOR_FOR_NEW_PROJECTS = False
    clients["editor"].post("/projects/new", {"name": "Real keys only"})
    project = Project.objects.get(name="Real keys only")
    assert project.draft_account is None and not project.provider_accounts.exists()


def test_a_project_needs_a_name_said_on_the_field(clients):
    answer = clients["owner"].post("/projects/new", {"name": "   "})
    html = answer.content.decode()
    assert answer.status_code == 400 and "has-error" in html and "Give the project a name." in html
    assert not Project.objects.filter(name="").exists()


def test_anonymous_visitors_are_sent_to_log_in_before_creating_a_project():
    answer = Client().get("/projects/new")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


def test_the_owner_renames_the_project_and_others_may_only_read_its_settings(project, clients):
    assert clients["owner"].post(f"/projects/{project.pk}/settings", {"name": "Moonset"}).status_code == 302
    project.refresh_from_db()
    assert project.name == "Moonset"
    for role in ("editor", "reviewer", "viewer"):
        assert clients[role].get(f"/projects/{project.pk}/settings").status_code == 200
        assert clients[role].post(f"/projects/{project.pk}/settings", {"name": "Mine"}).status_code == 403
    assert clients["outsider"].get(f"/projects/{project.pk}/settings").status_code == 404
    project.refresh_from_db()
    assert project.name == "Moonset"


def test_an_archived_project_is_read_only_and_hidden_from_the_list_unless_asked(project, clients, draft_form):
    assert clients["owner"].post(f"/projects/{project.pk}/archive", {"archived": "1"}).status_code == 302
    listing = clients["editor"].get("/").content.decode()
    assert "Moonrise" not in listing and "Show 1 archived project" in listing
    assert "Moonrise" in clients["editor"].get("/?archived=1").content.decode()
    assert clients["editor"].get(f"/projects/{project.pk}/").status_code == 200
    refused = clients["editor"].post(f"/projects/{project.pk}/draft", draft_form())
    assert refused.status_code == 403 and not project.tasks.exists()
    assert clients["owner"].post(f"/projects/{project.pk}/archive", {"archived": "0"}).status_code == 302
    assert clients["editor"].post(f"/projects/{project.pk}/draft", draft_form()).status_code == 302


def test_only_the_owner_archives(project, clients):
    for role in ("editor", "reviewer", "viewer"):
        assert clients[role].post(f"/projects/{project.pk}/archive", {"archived": "1"}).status_code == 403
    assert clients["outsider"].post(f"/projects/{project.pk}/archive", {"archived": "1"}).status_code == 404
    project.refresh_from_db()
    assert not project.is_archived


def test_deleting_names_what_goes_and_needs_the_name_typed(project, clients, pending_task, people):
    pending_task(project, people["owner"])
    page = clients["owner"].get(f"/projects/{project.pk}/settings").content.decode()
    assert "1 prompt</strong>" in page and "1 task</strong>" in page and "4 memberships</strong>" in page
    wrong = clients["owner"].post(f"/projects/{project.pk}/delete", {"confirm": "moonrise"})
    assert wrong.status_code == 400 and "Type &#x27;Moonrise&#x27; exactly" in wrong.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()
    assert clients["editor"].post(f"/projects/{project.pk}/delete", {"confirm": "Moonrise"}).status_code == 403
    gone = clients["owner"].post(f"/projects/{project.pk}/delete", {"confirm": "Moonrise"})
    assert gone.status_code == 302 and not Project.objects.filter(pk=project.pk).exists()


def test_deleting_a_project_with_clips_removes_them_and_their_files(
    project, clients, pending_task, people, archived_clip, media, django_capture_on_commit_callbacks
):
    clip = archived_clip(pending_task(project, people["owner"]))
    stored = media / clip.file.name
    assert stored.exists()
    # A still of one of its frames, as printed feedback makes them.
    still = media / f"frames/clip-{clip.pk}/frame-000048.jpg"
    still.parent.mkdir(parents=True)
    still.write_bytes(b"jpeg")
    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are gone for good
        gone = clients["owner"].post(f"/projects/{project.pk}/delete", {"confirm": "Moonrise"})
    assert gone.status_code == 302 and not Project.objects.filter(pk=project.pk).exists()
    assert not Clip.objects.exists() and not stored.exists() and not still.exists()


# --- Members and invitations ----------------------------------------------------


def invite(client, project, who, role="editor"):
    return client.post(f"/projects/{project.pk}/members/", {"who": who, "role": role})


def test_an_existing_user_is_added_at_once_by_username_or_address(project, clients):
    User = get_user_model()
    User.objects.create_user(username="mira", email="mira@example.com", password="pw")
    User.objects.create_user(username="jon", email="jon@example.com", password="pw")
    assert invite(clients["owner"], project, "mira", "reviewer").status_code == 302
    assert invite(clients["owner"], project, "JON@example.com").status_code == 302
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles["mira"] == Role.REVIEWER and roles["jon"] == Role.EDITOR
    assert not Invitation.objects.exists()


def test_inviting_someone_twice_or_nobody_is_said_on_the_field(project, clients):
    twice = invite(clients["owner"], project, "editor")
    assert twice.status_code == 400 and "editor is already in this project." in twice.content.decode()
    nobody = invite(clients["owner"], project, "ghost")
    assert nobody.status_code == 400 and "Use their e-mail address" in nobody.content.decode()
    assert project.memberships.count() == 4


def test_an_address_without_an_account_gets_a_single_use_link_by_mail(project, clients, mailoutbox):
    answer = invite(clients["owner"], project, "new.person@example.com", "reviewer")
    html = answer.content.decode()
    invitation = Invitation.objects.get()
    (mail,) = mailoutbox
    link = next(word for word in mail.body.split() if "/invites/" in word)
    assert answer.status_code == 200 and link in html and mail.to == ["new.person@example.com"]
    token = link.rsplit("/", 1)[1]
    # Only a digest of the token is stored.
    assert token not in invitation.token_digest and invitation.role == Role.REVIEWER and invitation.is_open

    visitor = Client()
    assert visitor.get(f"/invites/{token}").status_code == 200
    joined = visitor.post(
        f"/invites/{token}",
        {"username": "newperson", "password1": "a long passphrase 42", "password2": "a long passphrase 42"},
    )
    assert joined.status_code == 302 and joined["Location"] == f"/projects/{project.pk}/"
    user = get_user_model().objects.get(username="newperson")
    assert user.email == "new.person@example.com"
    assert Membership.objects.get(project=project, user=user).role == Role.REVIEWER
    assert visitor.get(f"/projects/{project.pk}/").status_code == 200  # signed in
    # Used once: the same link now says so, for anyone.
    assert Client().get(f"/invites/{token}").status_code == 404
    assert clients["outsider"].post(f"/invites/{token}").status_code == 404


def test_a_signed_in_person_joins_with_the_link(project, clients, people, mailoutbox):
    invite(clients["owner"], project, "someone@example.com", "viewer")
    token = mailoutbox[0].body.split("/invites/")[1].split()[0]
    assert clients["outsider"].post(f"/invites/{token}").status_code == 302
    assert Membership.objects.get(project=project, user=people["outsider"]).role == Role.VIEWER


def test_expired_and_revoked_links_do_not_work(project, clients, mailoutbox):
    invite(clients["owner"], project, "late@example.com")
    invite(clients["owner"], project, "revoked@example.com")
    late, revoked = (mail.body.split("/invites/")[1].split()[0] for mail in mailoutbox)
    Invitation.objects.filter(email="late@example.com").update(expires_at=timezone.now() - timedelta(seconds=1))
    revoking = Invitation.objects.get(email="revoked@example.com")
    assert clients["editor"].post(f"/projects/{project.pk}/invitations/{revoking.pk}/revoke").status_code == 403
    assert clients["owner"].post(f"/projects/{project.pk}/invitations/{revoking.pk}/revoke").status_code == 302
    for token in (late, revoked, "not-a-token"):
        assert Client().get(f"/invites/{token}").status_code == 404


def test_a_link_accepted_twice_at_once_joins_once(project, people, mailoutbox):
    invitation_link = team.invite(
        project=project, who="race@example.com", role=Role.EDITOR, invited_by=people["owner"], link_for=str
    )
    assert invitation_link.invitation is not None
    team.accept(invitation_link.invitation, user=people["outsider"])
    with pytest.raises(team.TeamRuleBroken):
        team.accept(invitation_link.invitation, user=people["outsider"])
    assert project.memberships.filter(user=people["outsider"]).count() == 1


def test_only_the_owner_invites(project, clients):
    for role in ("editor", "reviewer", "viewer"):
        assert clients[role].get(f"/projects/{project.pk}/members/").status_code == 200
        assert invite(clients[role], project, "x@example.com").status_code == 403
    assert clients["outsider"].get(f"/projects/{project.pk}/members/").status_code == 404
    assert not Invitation.objects.exists()


# --- Roles, leaving, and always an owner -------------------------------------------


def member(project, people, role) -> Membership:
    return Membership.objects.get(project=project, user=people[role])


def test_the_owner_changes_roles_and_removes_members(project, clients, people):
    editor = member(project, people, "editor")
    assert (
        clients["owner"].post(f"/projects/{project.pk}/members/{editor.pk}/role", {"role": "viewer"}).status_code == 302
    )
    assert member(project, people, "editor").role == Role.VIEWER
    viewer = member(project, people, "viewer")
    assert clients["owner"].post(f"/projects/{project.pk}/members/{viewer.pk}/remove").status_code == 302
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_members_other_than_the_owner_change_nobody_but_may_leave(project, clients, people):
    reviewer, viewer = member(project, people, "reviewer"), member(project, people, "viewer")
    assert (
        clients["editor"].post(f"/projects/{project.pk}/members/{reviewer.pk}/role", {"role": "owner"}).status_code
        == 403
    )
    assert clients["editor"].post(f"/projects/{project.pk}/members/{viewer.pk}/remove").status_code == 403
    left = clients["reviewer"].post(f"/projects/{project.pk}/members/{reviewer.pk}/remove")
    assert left.status_code == 302 and left["Location"] == "/"
    assert not Membership.objects.filter(pk=reviewer.pk).exists() and Membership.objects.filter(pk=viewer.pk).exists()
    assert clients["reviewer"].get(f"/projects/{project.pk}/").status_code == 404


def test_the_last_owner_can_neither_leave_nor_be_demoted(project, clients, people):
    owner = member(project, people, "owner")
    demoted = clients["owner"].post(f"/projects/{project.pk}/members/{owner.pk}/role", {"role": "editor"}, follow=True)
    assert "A project needs an owner" in demoted.content.decode()
    left = clients["owner"].post(f"/projects/{project.pk}/members/{owner.pk}/remove", follow=True)
    assert "A project needs an owner" in left.content.decode()
    assert member(project, people, "owner").role == Role.OWNER
    # With a second owner, the first may step down.
    editor = member(project, people, "editor")
    clients["owner"].post(f"/projects/{project.pk}/members/{editor.pk}/role", {"role": "owner"})
    assert (
        clients["owner"].post(f"/projects/{project.pk}/members/{owner.pk}/role", {"role": "editor"}).status_code == 302
    )
    assert member(project, people, "owner").role == Role.EDITOR and member(project, people, "editor").role == Role.OWNER


def test_a_role_that_does_not_exist_changes_nothing(project, clients, people):
    editor = member(project, people, "editor")
    answer = clients["owner"].post(f"/projects/{project.pk}/members/{editor.pk}/role", {"role": "admin"}, follow=True)
    assert "Choose a role" in answer.content.decode() and member(project, people, "editor").role == Role.EDITOR


def test_a_member_of_another_project_cannot_be_reached_through_this_one(project, clients, make_project, people):
    other = make_project(people, name="Elsewhere")
    stranger = Membership.objects.get(project=other, user=people["viewer"])
    assert clients["owner"].post(f"/projects/{project.pk}/members/{stranger.pk}/remove").status_code == 404
    assert Membership.objects.filter(pk=stranger.pk).exists()


def test_every_team_change_needs_the_csrf_token(project, people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    assert (
        client.post(f"/projects/{project.pk}/members/", {"who": "x@example.com", "role": "editor"}).status_code == 403
    )
    assert client.post("/projects/new", {"name": "Forged"}).status_code == 403
    assert not Invitation.objects.exists() and not Project.objects.filter(name="Forged").exists()


def test_the_owner_chooses_the_draft_and_final_accounts_on_the_settings_page(project, clients):
    page = clients["owner"].get(f"/projects/{project.pk}/settings").content.decode()
    assert 'name="draft_account"' in page and 'name="final_account"' in page
    answer = clients["owner"].post(
        f"/projects/{project.pk}/accounts/",
        {"draft_account": project.draft_account.pk, "final_account": "", "next": f"/projects/{project.pk}/settings"},
    )
    assert answer["Location"] == f"/projects/{project.pk}/settings"
    project.refresh_from_db()
    assert project.final_account is None
    assert 'name="draft_account"' not in clients["editor"].get(f"/projects/{project.pk}/settings").content.decode()
