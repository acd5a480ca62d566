"""Route 6's access tokens: from the account's service-account key, or this machine's default credentials.

Google Cloud takes an OAuth 2 access token (`Authorization: Bearer`), not a key. A service account
gets one by signing a JWT with its key file's private key and sending it to the file's own
`token_uri` (the JWT-bearer grant); machine credentials (`google.auth.default()`: a key file named
by GOOGLE_APPLICATION_CREDENTIALS, gcloud's application-default login, or the metadata server of a
Google Cloud machine) have their own ways. google-auth does all of it; we hand it a transport over
the very client the route was given (`Transport`), so every token request goes where the route's
requests go, and is logged, timed out and stood in for the same way.

Tokens last an hour at Google. Each process keeps the newest one per key (keyed by the key's hash)
and fetches a new one when less than REFRESH_MARGIN_S is left (a quarter of its life, for tokens
that live less than 20 minutes). A token the API refuses with 401 although it looked alive is
dropped, and one fresh token is fetched and the request sent once more (a 401 means nothing was
done, so nothing is done twice).

Polls run again. The tracker runs a route's poll against a stand-in client that answers the
requests already made and stops at the first new one, then runs the poll again with its answer
(`studio.tasks.lifecycle.fetch_report_async`): so a poll must make the same requests every time it
is run for the same answers. A token cache shared by many polls would break that (a token another
poll stored between two runs would skip a request the first run made). So a poll decides once,
when it first runs, whether it brings a cached token or fetches one (`_Plan`, kept by operation),
and stores a fetched token only when it has its result: a report, or a refusal. Anything else (the
stand-in asking for an answer) leaves the plan for the next run, and a plan not finished within
PLAN_TTL_S is forgotten. The price: when a key's token is due for renewal, the polls that start
before the first new token is stored (a fraction of a second's worth) each fetch one of their own.

google-auth retries some token answers on its own, sleeping between tries (5xx, 408, 429, and
"server_error"-like OAuth errors). Sleeping would stall the tracker's event loop and make the
replayed poll sleep again, so the transport turns those answers into our own error at once; the
poll is tried again on its next schedule.

Machine credentials are found once per process (and a failure remembered for a minute). Finding
them may ask the metadata server whether this is a Google Cloud machine, through google-auth's own
connection: the one request not made through the route's client. It is made once, before any poll
needs a token, and its answer does not change which requests a poll makes.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import google.auth
import httpx
from django.views.decorators.debug import sensitive_variables
from google.auth import credentials as google_credentials
from google.auth import exceptions as google_errors
from google.auth import transport
from google.oauth2 import service_account

from studio.providers.base import CREATES_NOTHING, ErrorKind, ProviderError, retry_after_seconds

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
KEY_FIELDS = ("client_email", "private_key", "token_uri")
REFRESH_MARGIN_S = 300.0
# When a token answer gives no lifetime: Google's tokens last an hour.
DEFAULT_LIFETIME_S = 3600.0
PLAN_TTL_S = 300.0
PLANS_KEPT = 512
# How long a failure to find this machine's credentials is remembered before looking again.
DEFAULT_CREDENTIALS_RETRY_S = 60.0
# OAuth errors google-auth retries with sleeps (`google.oauth2._client._can_retry`).
RETRIED_OAUTH_ERRORS = {"internal_failure", "server_error", "temporarily_unavailable"}


class KeyFileProblem(ValueError):
    """What is wrong with a pasted key file, in plain words."""


@sensitive_variables()
def read_key_file(text: str) -> dict[str, Any]:
    """The fields of a service-account key file (JSON), or KeyFileProblem saying what is wrong with it."""
    try:
        info = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise KeyFileProblem(
            "This is not a JSON key file: paste the whole file Google Cloud gave you, from { to }."
        ) from None
    if not isinstance(info, dict):
        raise KeyFileProblem("A key file is one JSON object, from { to }.")
    kind = info.get("type", "service_account")
    if kind != "service_account":
        raise KeyFileProblem(
            f'This is a key file of type "{kind}", not a service account\'s: create a key for a service '
            "account (IAM → Service accounts → Keys → Add key → JSON)."
        )
    missing = [name for name in KEY_FIELDS if not isinstance(info.get(name), str) or not info[name].strip()]
    if missing:
        raise KeyFileProblem(
            f"The key file has no {', '.join(missing)}: paste the whole file, as downloaded, not part of it."
        )
    if not info["token_uri"].startswith(("https://", "http://")):
        raise KeyFileProblem("The key file's token_uri is not a web address.")
    try:
        service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except (ValueError, TypeError):
        raise KeyFileProblem(
            "The key file's private_key is not a readable private key: download a new key file."
        ) from None
    return info


@dataclass(frozen=True)
class Token:
    value: str
    # time.time() after which it is not handed out again (its expiry less the refresh margin).
    usable_until: float

    @property
    def usable(self) -> bool:
        return time.time() < self.usable_until


@dataclass
class _Plan:
    """What one poll brings, decided when it first runs: a cached token, or None to fetch one."""

    token: Token | None
    made_at: float = field(default_factory=time.monotonic)


class Keyring:
    """This process's credentials and newest token per key, and the plans of polls under way."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: dict[str, google_credentials.Credentials] = {}
        self._tokens: dict[str, Token] = {}
        self._plans: dict[tuple[str, str], _Plan] = {}
        self._no_default_credentials: tuple[float, str] | None = None

    @sensitive_variables()
    def session(self, http: httpx.Client, account, *, operation: str | None = None) -> Session:
        """Tokens for one submit, poll (`operation`: the provider's job), download or check on this account."""
        key = account.api_key.strip()
        if not key and account.key_unreadable:
            # A key on file this server cannot read (its FIELD_ENCRYPTION_KEY changed) is not "no key": never fall
            # back to the machine's own identity for an account that named a service account.
            raise ProviderError(
                ErrorKind.AUTH,
                "The account's key file cannot be read on this server (its encryption key changed); paste it again",
            )
        digest = hashlib.sha256(key.encode()).hexdigest()
        credentials = self._credentials_for(key, digest)
        with self._lock:
            plan = self._plans.get((digest, operation)) if operation else None
            if plan is None or time.monotonic() - plan.made_at > PLAN_TTL_S:
                cached = self._tokens.get(digest)
                plan = _Plan(cached if cached and cached.usable else None)
                if operation:
                    self._forget_old_plans()
                    self._plans[(digest, operation)] = plan
        return Session(self, http, credentials, digest, plan, operation)

    @sensitive_variables()
    def drop_token(self, account) -> None:
        """Forget the account's cached token (it was refused): the next request fetches a new one."""
        digest = hashlib.sha256(account.api_key.strip().encode()).hexdigest()
        with self._lock:
            self._tokens.pop(digest, None)

    def forget(self) -> None:
        """Drop every credential, token and plan (a key was changed; tests start clean)."""
        with self._lock:
            self._credentials.clear()
            self._tokens.clear()
            self._plans.clear()
            self._no_default_credentials = None

    def _finish(self, digest: str, operation: str | None, *, fresh: Token | None, refused: Token | None) -> None:
        with self._lock:
            if operation:
                self._plans.pop((digest, operation), None)
            if refused and self._tokens.get(digest) == refused:
                del self._tokens[digest]
            newest = self._tokens.get(digest)
            if fresh and (newest is None or newest.usable_until < fresh.usable_until):
                self._tokens[digest] = fresh

    def _forget_old_plans(self) -> None:
        if len(self._plans) >= PLANS_KEPT:
            now = time.monotonic()
            for name, plan in list(self._plans.items()):
                if now - plan.made_at > PLAN_TTL_S:
                    del self._plans[name]

    @sensitive_variables()
    def _credentials_for(self, key: str, digest: str) -> google_credentials.Credentials:
        with self._lock:
            found = self._credentials.get(digest)
        if found is not None:
            return found
        if key:
            try:
                info = read_key_file(key)
            except KeyFileProblem as problem:
                raise ProviderError(
                    ErrorKind.AUTH, f"The account's key is not a usable service-account key file: {problem}"
                ) from None
            made: google_credentials.Credentials = service_account.Credentials.from_service_account_info(
                info, scopes=SCOPES
            )
        else:
            made = self._default_credentials()
        with self._lock:
            return self._credentials.setdefault(digest, made)

    def _default_credentials(self) -> google_credentials.Credentials:
        with self._lock:
            failed = self._no_default_credentials
        if failed and time.monotonic() - failed[0] < DEFAULT_CREDENTIALS_RETRY_S:
            raise _no_default_credentials(failed[1])
        try:
            credentials, _project = google.auth.default(scopes=list(SCOPES))
        except google_errors.DefaultCredentialsError as error:
            with self._lock:
                self._no_default_credentials = (time.monotonic(), str(error))
            raise _no_default_credentials(str(error)) from None
        return credentials


def _no_default_credentials(why: str) -> ProviderError:
    return ProviderError(
        ErrorKind.AUTH,
        "This account has no service-account key, and this machine has no Google Cloud credentials of its own "
        f"({why.rstrip('.')}). Paste a key file into the account, or set up Application Default Credentials "
        "where the workers run",
    )


class Session:
    """The tokens one submit, poll, download or check uses: `headers()`, then `refused()` after a 401.

    Used as a context manager: on leaving with a result (or a refusal), a token it fetched is kept
    for the next call and a cached token Google refused is dropped.
    """

    def __init__(
        self,
        keyring: Keyring,
        http: httpx.Client,
        credentials: google_credentials.Credentials,
        digest: str,
        plan: _Plan,
        operation: str | None,
    ) -> None:
        self._keyring, self._http, self._credentials = keyring, http, credentials
        self._digest, self._operation = digest, operation
        self._token = plan.token
        self._fresh: Token | None = None
        self._refused: Token | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        # A report, a refusal, or a real client's failure: this run was the last. Anything else is the
        # tracker's stand-in asking for the next answer: the plan stays for the run that follows.
        if kind is None or issubclass(kind, ProviderError | httpx.HTTPError):
            self._keyring._finish(self._digest, self._operation, fresh=self._fresh, refused=self._refused)

    @sensitive_variables()
    def headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._fresh = self._fetch()
        return {"Authorization": f"Bearer {self._token.value}"}

    def refused(self) -> bool:
        """After a 401: drop the token and say whether to try once more (only a cached token earns that)."""
        if self._token is None or self._token is self._fresh:
            return False
        self._refused, self._token = self._token, None
        return True

    @sensitive_variables()
    def _fetch(self) -> Token:
        # A copy: the shared credentials object is never changed, by this thread or any other.
        credentials = copy.copy(self._credentials)
        try:
            credentials.refresh(Transport(self._http))
        except google_errors.RefreshError as error:
            words = str(error.args[0]) if error.args else "no reason given"
            raise ProviderError(ErrorKind.AUTH, f"Google refused the account's credentials: {words}") from None
        except google_errors.TransportError as error:
            raise ProviderError(ErrorKind.OUTAGE, f"Google's token service could not be reached: {error}") from None
        if not credentials.token:
            raise ProviderError(ErrorKind.BAD_ANSWER, "Google's token service answered with no access token")
        expiry = credentials.expiry
        lifetime = (
            (expiry - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds()
            if expiry
            else DEFAULT_LIFETIME_S
        )
        lifetime = max(lifetime, 0.0)
        return Token(credentials.token, time.time() + lifetime - min(REFRESH_MARGIN_S, lifetime / 4))


class Transport(transport.Request):
    """google-auth's request interface over the httpx client the route was given.

    The client's own exceptions go through unchanged (the tracker's stand-in relies on it); answers
    google-auth would retry after a sleep come back at once as our error instead.
    """

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    @sensitive_variables()
    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> transport.Response:
        # A token creates no job: a worker dying after it and before the submit has sent nothing billable.
        options: dict[str, Any] = {"headers": headers or {}, "extensions": {CREATES_NOTHING: True}}
        if body is not None:
            options["content"] = body
        if timeout is not None:
            options["timeout"] = timeout
        response = self.http.request(method, url, **options)
        if trouble := _retried_by_google_auth(response):
            raise trouble
        return Answer(response)


class Answer(transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


def _retried_by_google_auth(response: httpx.Response) -> ProviderError | None:
    code = response.status_code
    if code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    said = f" ({error})" if isinstance(error, str) else ""
    if code == 429:
        return ProviderError(
            ErrorKind.RATE_LIMIT,
            f"Google's token service is rate limiting this account{said}",
            retry_after=retry_after_seconds(response),
            http_status=code,
        )
    if code >= 500 or code == 408 or (isinstance(error, str) and error in RETRIED_OAUTH_ERRORS):
        return ProviderError(
            ErrorKind.OUTAGE, f"Google's token service had an internal error (HTTP {code}){said}", http_status=code
        )
    return None


# One per process: credentials, tokens and poll plans are shared by every thread and the tracker's loop.
KEYRING = Keyring()
