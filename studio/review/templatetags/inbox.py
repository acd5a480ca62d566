"""`{% inbox_badge %}`: the header's Inbox link with the unread count, on every page for the signed-in.

The project page's one refresh keeps it current (tasks.views.live_cards sends it again when the
count changes); other pages show the count as it was when they loaded."""

from __future__ import annotations

from django import template

from studio.review.notifications import badge_html

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_badge(context) -> str:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return ""
    return badge_html(request)
