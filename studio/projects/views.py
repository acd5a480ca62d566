from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from studio.clips.models import Clip, delete_clips
from studio.images.models import delete_images
from studio.limits import tries
from studio.providers.forms import RoutingForm
from studio.review.comments import notes_to_answer
from studio.tasks.forms import DraftForm
from studio.tasks.models import Task
from studio.tasks.pages import editor_initial, new_prompt_initial, project_page_context

from . import activity, team
from .access import get_project_for_user
from .forms import DeleteProjectForm, InviteForm, ProjectForm, RoleForm, SignUpForm
from .management.commands.bootstrap_demo import demo_account
from .models import Invitation, Membership


@login_required
@require_GET
def project_list(request):
    show_archived = request.GET.get("archived") == "1"
    memberships = Membership.objects.filter(user=request.user).select_related("project").order_by("project__name")
    archived_count = memberships.filter(project__archived_at__isnull=False).count()
    if not show_archived:
        memberships = memberships.filter(project__archived_at__isnull=True)
    context = {"memberships": memberships, "show_archived": show_archived, "archived_count": archived_count}
    return render(request, "projects/project_list.html", context)


@login_required
def project_new(request):
    """Anyone signed in may start a project; they own it."""
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = team.create_project(
            name=form.cleaned_data["name"], description=form.cleaned_data["description"], owner=request.user
        )
        messages.success(request, f"Created {project.name}. Invite your team from Members.")
        return redirect("project-detail", project.pk)
    return render(request, "projects/project_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def project_settings(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id, own=request.method == "POST")
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Saved the project's name and description.")
        return redirect("project-settings", project.pk)
    context = {
        "project": project,
        "membership": membership,
        "form": form,
        "delete_form": DeleteProjectForm(project=project),
        "removes": team.what_deleting_removes(project) if membership.is_owner else None,
        "routing": RoutingForm(
            project=project, initial={"draft_account": project.draft_account, "final_account": project.final_account}
        ),
        "back": reverse("project-settings", args=[project.pk]),
    }
    return render(request, "projects/settings.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def project_activity(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id)
    context = {"project": project, "membership": membership, "feed": activity.feed(project)}
    return render(request, "projects/activity.html", context)


@login_required
@require_POST
def project_archive(request, project_id: int):
    project, _membership = get_project_for_user(request.user, project_id, own=True)
    archive = request.POST.get("archived") == "1"
    team.set_archived(project, archived=archive)
    messages.success(
        request, f"Archived {project.name}: it is read-only now." if archive else f"{project.name} is active again."
    )
    return redirect("project-settings", project.pk)


@login_required
@require_POST
def project_delete(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id, own=True)
    form = DeleteProjectForm(request.POST, project=project)
    if not form.is_valid():
        context = {
            "project": project,
            "membership": membership,
            "form": ProjectForm(instance=project),
            "delete_form": form,
            "removes": team.what_deleting_removes(project),
        }
        return render(request, "projects/settings.html", context, status=400)
    name = project.name
    with transaction.atomic():
        # Clips protect their tasks, and their files live in storage: they go
        # first, their objects deleted once the rows are gone for good.
        delete_clips(Clip.objects.filter(task__project=project))
        delete_images(project.input_images.all())
        team.delete_project(project)
    messages.success(request, f"Deleted {name} and everything in it.")
    return redirect("project-list")


@login_required
def members(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id, own=request.method == "POST")
    form = InviteForm(request.POST or None)
    invited_link = ""
    if request.method == "POST" and form.is_valid():
        try:
            invited = team.invite(
                project=project,
                who=form.cleaned_data["who"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                link_for=lambda token: request.build_absolute_uri(reverse("invitation", args=[token])),
            )
        except team.TeamRuleBroken as broken:
            form.add_error("who", broken.message)
        else:
            if invited.membership:
                messages.success(request, f"Added {invited.membership.user.get_username()} to {project.name}.")
                return redirect("members", project.pk)
            # Shown once, to copy: only its digest is kept.
            invited_link = invited.link
            form = InviteForm()
    context = {
        "project": project,
        "membership": membership,
        "members": project.memberships.select_related("user").order_by("user__username"),
        "invitations": project.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True),
        "form": form,
        "invited_link": invited_link,
        "roles": Membership.Role.choices,
    }
    return render(request, "projects/members.html", context, status=400 if form.errors else 200)


def _membership_in(project, membership_id: int) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, project=project)


@login_required
@require_POST
def member_role(request, project_id: int, membership_id: int):
    project, _membership = get_project_for_user(request.user, project_id, own=True)
    member = _membership_in(project, membership_id)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise team.TeamRuleBroken("Choose a role: owner, editor, reviewer or viewer.")
        team.change_role(member, role=form.cleaned_data["role"], by=request.user)
    except team.TeamRuleBroken as broken:
        messages.error(request, broken.message)
    else:
        role = Membership.Role(form.cleaned_data["role"]).label.lower()
        messages.success(request, f"{member.user.get_username()} is now {role}.")
    return redirect("members", project.pk)


@login_required
@require_POST
def member_remove(request, project_id: int, membership_id: int):
    """Owners remove anyone; any member may leave."""
    project, membership = get_project_for_user(request.user, project_id)
    member = _membership_in(project, membership_id)
    leaving = member.pk == membership.pk
    if not (leaving or membership.is_owner):
        raise PermissionDenied("Only a project owner can remove other members.")
    try:
        team.remove_member(member, by=request.user)
    except team.TeamRuleBroken as broken:
        messages.error(request, broken.message)
        return redirect("members", project.pk)
    if leaving:
        messages.success(request, f"You left {project.name}.")
        return redirect("project-list")
    messages.success(request, f"Removed {member.user.get_username()} from {project.name}.")
    return redirect("members", project.pk)


@login_required
@require_POST
def invitation_revoke(request, project_id: int, invitation_id: int):
    project, _membership = get_project_for_user(request.user, project_id, own=True)
    invitation = get_object_or_404(Invitation, pk=invitation_id, project=project)
    team.revoke(invitation)
    messages.success(request, f"Revoked the invitation to {invitation.email}.")
    return redirect("members", project.pk)


def sign_in(request):
    """Django's login page; on the embedded default it names the demo account and where its password is."""
    return auth_views.LoginView.as_view(extra_context={"demo_account": demo_account()})(request)


def invitation(request, token: str):
    """An invitation link: sign up (or, signed in, just join) and land in the project."""
    wait = tries.INVITATION_LINKS.wait(request)
    if wait is not None:
        return tries.too_many(request, refused="Too many unknown invitation links from your address.", wait=wait)
    invited = team.open_invitation(token)
    if invited is None:
        tries.INVITATION_LINKS.missed(request)
        return render(request, "projects/invitation.html", {"invitation": None}, status=404)
    if request.user.is_authenticated:
        if request.method == "POST":
            return _join(request, invited, request.user)
        return render(request, "projects/invitation.html", {"invitation": invited})
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save(commit=False)
        user.email = invited.email
        user.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _join(request, invited, user)
    return render(
        request, "projects/invitation.html", {"invitation": invited, "form": form}, status=400 if form.errors else 200
    )


def _join(request, invited: Invitation, user):
    try:
        joined = team.accept(invited, user=user)
    except team.TeamRuleBroken as broken:
        return render(request, "projects/invitation.html", {"invitation": None, "why": broken.message}, status=404)
    messages.success(request, f"Welcome to {joined.project.name}.")
    return redirect("project-detail", joined.project_id)


@login_required
@require_GET
def project_detail(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id)
    new_prompt = request.GET.get("prompt") == "new"
    prompt = None if new_prompt else _chosen_prompt(project, request.GET.get("prompt"))
    recalled = None if new_prompt else _task_in(project, request.GET.get("from_task"))
    if recalled:
        prompt = recalled.prompt_version.prompt
    form = None
    if project.draft_account:
        if new_prompt:
            initial = new_prompt_initial()
        else:
            initial = editor_initial(project, prompt, recalled, user=request.user, fresh="fresh" in request.GET)
            if recalled and request.GET.get("revise"):
                initial["revise_clip"] = request.GET["revise"]
        form = DraftForm(account=project.draft_account, project=project, user=request.user, initial=initial)
    context = project_page_context(project, membership, form=form, prompt=prompt)
    context["revising"] = notes_to_answer(project, form)
    context["recalled"] = recalled
    return render(request, "projects/project.html", context)


def _chosen_prompt(project, raw):
    if raw and str(raw).isdigit():
        chosen = project.prompts.filter(pk=int(raw)).first()
        if chosen:
            return chosen
    return project.prompts.first()


def _task_in(project, raw) -> Task | None:
    if raw and str(raw).isdigit():
        # An extension's settings describe the seconds it added, not a draft to start from: it recalls its source's.
        task = project.tasks.select_related("prompt_version__prompt").filter(pk=int(raw)).first()
        while task is not None and task.is_extension:
            task = task.extended_from
        return task
    return None
