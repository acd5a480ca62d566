from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from studio.projects.access import get_project_for_user
from studio.tasks import budgets

from . import ledger
from .budget import change_budget
from .forms import BudgetForm, SpendFilterForm


def _get_project_for_spender(user, project_id: int):
    """Owners and editors see what the project spends, archived or not; reviewers and viewers never spend."""
    project, membership = get_project_for_user(user, project_id)
    if not (membership.is_owner or membership.role == membership.Role.EDITOR):
        raise PermissionDenied("Only owners and editors see what the project spends.")
    return project, membership


def _standing(project, user) -> dict:
    now = timezone.now()
    standing = budgets.standing(project, user, now=now)
    # With no limit the standing adds nothing up; the month's spend is still worth showing.
    month_spent = standing.spent if standing.is_limited else budgets.held(project, since=ledger.month_start(now))
    return {"standing": standing, "month_spent": month_spent}


@login_required
@require_http_methods(["GET", "POST"])
def budget(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id, own=True)
    form = BudgetForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        words = change_budget(project=project, by=request.user, **form.cleaned_data)
        messages.success(request, f"Saved: {words}." if words else "Nothing changed.")
        return redirect("project-budget", project.pk)
    context = {"project": project, "membership": membership, "form": form, **_standing(project, request.user)}
    return render(request, "spend/budget.html", context, status=400 if form.errors else 200)


def _filters(request) -> tuple[SpendFilterForm, ledger.Window]:
    form = SpendFilterForm(request.GET or None)
    period, start, end, group = form.asked()
    return form, ledger.window(period=period, start=start, end=end, group=group, now=timezone.now())


@login_required
@require_GET
def spend(request, project_id: int):
    project, membership = _get_project_for_spender(request.user, project_id)
    form, window = _filters(request)
    tasks = window.tasks(project)
    here = request.get_full_path()
    context = {
        "project": project,
        "membership": membership,
        "filters": form,
        "window": window,
        "totals": ledger.totals(tasks),
        "chart": ledger.chart(tasks, window, now=timezone.now()),
        "breakdowns": [(heading, ledger.breakdown(tasks, by)) for by, (heading, _field) in ledger.BREAKDOWNS.items()],
        "charged_differently": ledger.charged_differently(tasks)[: ledger.LIST_LENGTH],
        "not_billed": ledger.not_billed(tasks)[: ledger.LIST_LENGTH],
        "may_have_been_billed": ledger.may_have_been_billed(project)[: ledger.LIST_LENGTH],
        "list_length": ledger.LIST_LENGTH,
        "here": here,
        "csv_url": reverse("spend-csv", args=[project.pk]) + (f"?{request.GET.urlencode()}" if request.GET else ""),
        **_standing(project, request.user),
    }
    return render(request, "spend/spend.html", context)


@login_required
@require_GET
def spend_csv(request, project_id: int):
    project, _membership = _get_project_for_spender(request.user, project_id)
    _form, window = _filters(request)
    response = StreamingHttpResponse(ledger.csv_lines(window.tasks(project)), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="spend-project{project.pk}-{stamp}.csv"'
    return response
