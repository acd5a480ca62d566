"""A member's inbox: their notifications across the projects they belong to, newest first, with
"mark all read", each one opening where it happened (and marked read), and the e-mail setting.

Every notification belongs to one person: anyone else asking for it gets 404, as does its owner
once they have left its project.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from . import notifications

PER_PAGE = 50


class EmailSettingForm(forms.Form):
    email = forms.BooleanField(required=False, label="E-mail me my notifications")


@login_required
@require_safe
def inbox(request):
    mine = notifications.inbox_of(request.user).select_related("project")
    page = Paginator(mine, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "unread": notifications.unread_count(request.user),
        "email_form": EmailSettingForm(initial={"email": notifications.wants_email(request.user)}),
        "email_address": request.user.email,
    }
    return render(request, "review/inbox.html", context)


@login_required
@require_POST
def inbox_read_all(request):
    count = notifications.mark_all_read(request.user)
    messages.success(request, f"Marked {count} notification{pluralize(count)} read.")
    return redirect("inbox")


@login_required
@require_POST
def inbox_settings(request):
    form = EmailSettingForm(request.POST)
    form.is_valid()  # one optional tick box: nothing can be wrong
    email = bool(form.cleaned_data.get("email"))
    notifications.set_wants_email(request.user, email=email)
    if email and not request.user.email:
        messages.warning(request, "Saved, but your account has no e-mail address yet: nothing can be sent.")
    elif email:
        messages.success(request, f"Notifications will be e-mailed to {request.user.email}, one e-mail per burst.")
    else:
        messages.success(request, "Notifications stay in your inbox only.")
    return redirect("inbox")


@login_required
@require_safe
def inbox_open(request, notification_id: int):
    """Mark one notification read and go where it happened."""
    notification = get_object_or_404(notifications.inbox_of(request.user), pk=notification_id)
    notifications.mark_read(notification)
    link = notification.link
    # Links are made by this app (a path on this site); anything else goes back to the inbox.
    if link.startswith("/") and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return redirect(link)
    return redirect("inbox")
