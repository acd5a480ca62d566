"""Test connection: asks the provider something that costs nothing, from a worker."""

from __future__ import annotations

import httpx
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .base import ProviderError, http_client
from .models import ProviderAccount


@sensitive_variables()
def check_connection(account_id: int) -> None:
    account = ProviderAccount.objects.get(pk=account_id)
    try:
        with http_client() as http:
            account.provider.check_account(http, account)
    except ProviderError as error:
        ok, message = False, error.for_user
    except httpx.HTTPError as exc:
        ok, message = False, f"Could not reach {account.resolved_base_url} ({type(exc).__name__})."
    except NotImplementedError:
        ok, message = None, "This route has no free way to test a key; draft once to check it."
    else:
        ok, message = True, "Connected: the provider accepted the key. Nothing was spent."
    ProviderAccount.objects.filter(pk=account_id).update(checked_at=timezone.now(), check_ok=ok, check_message=message)
