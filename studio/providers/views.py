from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from studio.projects.access import get_project_for_user
from studio.tasks.queue import enqueue_account_check

from .forms import ProviderAccountForm, RoutingForm
from .models import ProviderAccount


def _owner_project(user, project_id: int):
    project, membership = get_project_for_user(user, project_id)
    if not membership.is_owner:
        raise PermissionDenied("Only the project owner manages provider accounts.")
    return project, membership


def _get_account_for_owner(user, account_id: int) -> ProviderAccount:
    account = get_object_or_404(ProviderAccount, pk=account_id)
    _owner_project(user, account.project_id)
    return account


@login_required
def account_list(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id)
    is_owner = membership.is_owner
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied("Only the project owner manages provider accounts.")
        routing = RoutingForm(request.POST, project=project)
        if routing.is_valid():
            project.draft_account = routing.cleaned_data["draft_account"]
            project.final_account = routing.cleaned_data["final_account"]
            project.save(update_fields=["draft_account", "final_account"])
            messages.success(request, "Saved which accounts draft and render finals.")
            settings_page = reverse("project-settings", args=[project.pk])
            if request.POST.get("next") == settings_page:
                return redirect(settings_page)
            return redirect("provider-accounts", project.pk)
    else:
        routing = RoutingForm(
            project=project, initial={"draft_account": project.draft_account, "final_account": project.final_account}
        )
    context = {
        "project": project,
        "membership": membership,
        "accounts": project.provider_accounts.all(),
        "routing": routing,
        "form": ProviderAccountForm() if is_owner else None,
        "is_owner": is_owner,
    }
    return render(request, "providers/accounts.html", context)


# The new key arrives in the POST: error reports never show it, nor anything the view holds.
@sensitive_variables()
@sensitive_post_parameters("api_key", "service_account_key")
@login_required
@require_POST
def account_add(request, project_id: int):
    project, membership = _owner_project(request.user, project_id)
    form = ProviderAccountForm(request.POST)
    if form.is_valid():
        account = form.save(commit=False)
        account.project = project
        account.save()
        messages.success(request, f"Added {account.label}. Test the connection before you draft on it.")
        return redirect("provider-accounts", project.pk)
    context = {
        "project": project,
        "membership": membership,
        "accounts": project.provider_accounts.all(),
        "routing": RoutingForm(project=project),
        "form": form,
        "is_owner": True,
    }
    return render(request, "providers/accounts.html", context, status=400)


@sensitive_variables()
@sensitive_post_parameters("api_key", "service_account_key")
@login_required
def account_edit(request, account_id: int):
    account = _get_account_for_owner(request.user, account_id)
    form = ProviderAccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {account.label}.")
        return redirect("provider-accounts", account.project_id)
    return render(
        request,
        "providers/account_edit.html",
        {"account": account, "form": form, "project": account.project},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def account_test(request, account_id: int):
    """Ask a worker to test the connection; the row shows the answer when it comes."""
    account = _get_account_for_owner(request.user, account_id)
    ProviderAccount.objects.filter(pk=account.pk).update(check_requested_at=timezone.now())
    enqueue_account_check(account.pk)
    account.refresh_from_db()
    if request.htmx:
        return render(
            request,
            "providers/accounts.html#account-row",
            {"account": account, "is_owner": True, "project": account.project},
        )
    return redirect("provider-accounts", account.project_id)


@login_required
@require_GET
def account_row(request, account_id: int):
    account = get_object_or_404(ProviderAccount, pk=account_id)
    project, membership = get_project_for_user(request.user, account.project_id)
    return render(
        request,
        "providers/accounts.html#account-row",
        {"account": account, "project": project, "is_owner": membership.is_owner},
    )
