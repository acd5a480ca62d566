from __future__ import annotations

from django import template

from studio.spend import ledger

register = template.Library()


@register.filter
def signed(amount):
    """A difference as money with its sign: "+$0.40", "-$0.10"."""
    return ledger.signed(amount)
