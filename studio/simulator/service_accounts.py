"""Google's OAuth for service accounts, simulated: key files, signed token requests, access tokens.

A service account proves itself to Google with a JWT it signs with its key's private half (RFC 7523,
the "JWT bearer" grant): Google checks the signature against the public half it kept, and answers
with a short-lived access token that the account then sends as `Authorization: Bearer`. The
simulator does the same with keys it issued (`issue_key_file`), so the app's and Google's own
clients (google-auth) run their real signing and refreshing code against it.

Access tokens are signed by this server (no table): any web process can check one, and each
carries when it was issued and when it expires. `SIMULATOR["google_cloud_token_seconds"]` sets how
long tokens last (3600, as Google's, unless set), and `SIMULATOR["google_cloud_tokens_not_before"]`
(a Unix time) refuses every token issued before it, as if Google had expired them early.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core import signing

from .models import SimulatorServiceAccountKey

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_ENDPOINTS = ("https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token")
# Google refuses assertions meant to live longer than an hour.
LONGEST_ASSERTION_S = 3600
# How far a client's clock may be off from ours.
CLOCK_SKEW_S = 300
TOKEN_PREFIX = "ya29.sim-"
_TOKENS = signing.Signer(salt="simulator-google-access-token")


def issue_key_file(*, project_id: str, token_uri: str, name: str = "dailies") -> str:
    """A new service-account key file in Google's format, as `gcloud iam service-accounts keys create` writes it.

    Its private key is made here and handed out in the file only; the simulator keeps the public half.
    """
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key_id = secrets.token_hex(20)
    email = f"{name}@{project_id}.iam.gserviceaccount.com"
    SimulatorServiceAccountKey.objects.create(
        key_id=key_id, client_email=email, project_id=project_id, public_key=public
    )
    key = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)),
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }
    return json.dumps(key, indent=2)


class Refused(Exception):
    """A token request Google would refuse: `error` and `description` are its words; `status` the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def check_assertion(assertion: str, *, token_path: str) -> SimulatorServiceAccountKey:
    """The issued key that signed this JWT for a token from `token_path`, or `Refused` in Google's words."""
    try:
        head, body, signature = (_unpadded_b64(part) for part in assertion.split("."))
        header, claims = json.loads(head), json.loads(body)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Refused("invalid_grant", "Invalid JWT: the assertion is not a signed JWT.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        raise Refused("invalid_grant", "Invalid JWT: only RS256-signed assertions are accepted.")
    key = SimulatorServiceAccountKey.objects.filter(key_id=str(header.get("kid", ""))).first()
    if key is None or claims.get("iss") != key.client_email:
        raise Refused("invalid_grant", "Invalid JWT Signature.")
    public = serialization.load_pem_public_key(key.public_key.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    signed = assertion.rsplit(".", 1)[0].encode()
    try:
        public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Refused("invalid_grant", "Invalid JWT Signature.") from None
    issued, expires = claims.get("iat"), claims.get("exp")
    now = time.time()
    if (
        not isinstance(issued, int | float)
        or not isinstance(expires, int | float)
        or expires - issued > LONGEST_ASSERTION_S
        or not issued - CLOCK_SKEW_S <= now <= expires + CLOCK_SKEW_S
    ):
        raise Refused(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
    audience = str(claims.get("aud", ""))
    # google-auth always names Google's own token endpoint, whatever the key file's token_uri says.
    if audience not in GOOGLE_TOKEN_ENDPOINTS and not audience.endswith(token_path):
        raise Refused("invalid_grant", "Invalid JWT: Failed audience check.")
    if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
        raise Refused("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return key


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_in: int


def new_access_token(key: SimulatorServiceAccountKey) -> AccessToken:
    lifetime = int(settings.SIMULATOR.get("google_cloud_token_seconds", 3600))
    now = time.time()
    claims = {"key": key.key_id, "project": key.project_id, "iat": now, "exp": now + lifetime}
    return AccessToken(TOKEN_PREFIX + _TOKENS.sign_object(claims), lifetime)


@dataclass(frozen=True)
class Bearer:
    """Whose access token a request carries: the issuing key's id and project."""

    key_id: str
    project_id: str


def read_access_token(authorization: str) -> Bearer | str:
    """The holder of an `Authorization: Bearer …` header's token, or why Google would refuse it (a reason code)."""
    scheme, _, token = authorization.partition(" ")
    if not token or scheme.lower() != "bearer":
        return "CREDENTIALS_MISSING"
    if not token.startswith(TOKEN_PREFIX):
        return "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    try:
        claims = _TOKENS.unsign_object(token.removeprefix(TOKEN_PREFIX))
    except signing.BadSignature:
        return "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    not_before = float(settings.SIMULATOR.get("google_cloud_tokens_not_before", 0))
    if claims["exp"] <= time.time() or claims["iat"] < not_before:
        return "ACCESS_TOKEN_EXPIRED"
    return Bearer(key_id=claims["key"], project_id=claims["project"])


def _unpadded_b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
