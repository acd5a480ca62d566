"""What logs and error reports may show: one JSON object per line on stderr, and never a provider key.

JSON rather than key=value: a server error's traceback stays one field of one line (key=value would
need quoting rules of its own for it), and log shippers read JSON without a pattern of ours.

Provider keys are kept out twice. Functions that hold a decrypted key are marked with
`sensitive_variables`, so error reports hide their local variables (and those of everything they
call), and `ErrorReportFilter` does that even with DEBUG on. Then, in case a key still reaches a log
line through a message or an exception's text, `HideKeys` masks anything shaped like one.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from django.views.debug import SafeExceptionReporterFilter

HIDDEN = "[hidden]"

# A header or parameter that carries a key, then its value: `Authorization: Bearer …`,
# `'x-api-key': '…'`, `?key=…`, as a request, a dict's repr or a URL writes them. Masking twice
# changes nothing (a record passes the filter, then the formatter's last guard).
_NAMED = re.compile(
    r"""(?P<name>(?<![a-z0-9])(?:authorization|x-goog-api-key|x-api-key|api[-_]?key|access[-_]?token|secret[-_]?key)\b
        ["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|key)\s+)?+)
        (?!\[hidden\])(?P<value>[^\s"'\\,;&<>)}\]]+)""",
    re.IGNORECASE | re.VERBOSE,
)
_QUERY_KEY = re.compile(
    r"(?P<name>[?&](?:key|api_key|apikey|token|access_token|signature|x-amz-signature)=)[^&\s\"'\\]+", re.I
)
# Keys that show what they are wherever they appear: bearer tokens, the simulator's `sim-…`,
# OpenAI-style `sk-…`, Google API keys and Google's OAuth access tokens (`ya29.…`, route 6).
_SHAPED = re.compile(
    r"\b(?:bearer\s+)[A-Za-z0-9._~+/=-]{8,}|\b(?:sim|sk)-[A-Za-z0-9_-]{6,}|\bAIza[0-9A-Za-z_-]{30,}"
    r"|\bya29\.[A-Za-z0-9._~+/=-]{8,}",
    re.I,
)
# A private key, as a PEM block or a key file's JSON spells it (route 6's service-account key files).
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)


# Paths whose last part is itself a secret: invitation links, input-image links, provider callbacks
# (Django logs every 404's path, and the access log every request's).
_LINK_TOKEN = re.compile(r"(?P<path>/(?:invites|i|hooks/tasks)/)[^/?#\s\"']+")


def hide_keys(text: str) -> str:
    """`text` with every key-shaped value and link token in it replaced by [hidden]."""
    text = _PRIVATE_KEY.sub(HIDDEN, text)
    text = _LINK_TOKEN.sub(lambda m: m["path"] + HIDDEN, text)
    text = _NAMED.sub(lambda m: m["name"] + HIDDEN, text)
    text = _QUERY_KEY.sub(lambda m: m["name"] + HIDDEN, text)
    return _SHAPED.sub(HIDDEN, text)


class HideKeys(logging.Filter):
    """Masks keys in a record's message, traceback and stack before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call logs as its raw words rather than failing the caller
            message = str(record.msg)
        record.msg, record.args = hide_keys(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = hide_keys(record.exc_text)
        if record.stack_info:
            record.stack_info = hide_keys(record.stack_info)
        return True


# Everything a LogRecord has of its own; anything else on a record came as `extra=`.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request", "status_code"}


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message; the request's method, path and
    status for Django's request errors; the traceback as one field; and any `extra=` values."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            # The path only: a query string can carry anything.
            entry |= {"method": getattr(request, "method", None), "path": request.path}
        status = getattr(record, "status_code", None)
        if status is not None:
            entry["status"] = status
        entry |= {name: value for name, value in vars(record).items() if name not in _RECORD_FIELDS}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # The last guard: extras too are written only with their keys masked.
        return hide_keys(json.dumps(entry, default=str, ensure_ascii=False))


class ErrorReportFilter(SafeExceptionReporterFilter):
    """Django's filter for error reports (the DEBUG page, mailed reports), on even with DEBUG on, and
    hiding connection URLs (which carry passwords) and Authorization headers too."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION|REDIS|LOCATION", flags=re.I
    )

    def is_active(self, request) -> bool:
        return True
