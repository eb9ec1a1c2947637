"""Authentication: the verified token is the only source of the tenant (Starlette auth hook)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import OrderedDict

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import Response

from atum_metrics.errors import ApiError, json_error
from atum_metrics.tokens import Claims, TokenError, Verifier

API_PREFIX = "/api/v1/"
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
# Verified tokens are remembered (signature checked once); expiry is still checked every time.
CACHE_SIZE = 4096
_TOKEN_IN_QUERY = re.compile(r"(access_token=)[^&\s\"]*")


class Tenant(BaseUser):
    """The caller, as its token says."""

    def __init__(self, claims: Claims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return str(self.claims.organization_id)


class TokenBackend(AuthenticationBackend):
    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier
        self._cache: OrderedDict[str, Claims] = OrderedDict()

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        path = conn.scope["path"]
        if not path.startswith(API_PREFIX) or path in PUBLIC_PATHS:
            return None
        token = _bearer(conn) or conn.query_params.get("access_token")
        if not token:
            raise AuthenticationError("A token is required: Authorization: Bearer or access_token.")
        claims = self._verify(token)
        scopes = ["authenticated", "metrics:admin"] if claims.admin else ["authenticated"]
        return AuthCredentials(scopes), Tenant(claims)

    def _verify(self, token: str) -> Claims:
        claims = self._cache.get(token)
        if claims is None:
            try:
                claims = self._verifier.verify(token)
            except TokenError as exc:
                raise AuthenticationError(str(exc)) from None
            self._cache[token] = claims
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        if claims.expires_at <= time.time():
            self._cache.pop(token, None)
            raise AuthenticationError("The token has expired.")
        return claims


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("The Authorization header must be: Bearer <token>.")
    return value.strip()


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    return json_error(401, "unauthorized", str(exc))


def tenant_of(conn: HTTPConnection) -> Claims:
    user = conn.scope.get("user")
    if not isinstance(user, Tenant):
        raise ApiError(401, "unauthorized", "A token is required.")
    return user.claims


def organization_for(conn: HTTPConnection) -> uuid.UUID:
    """The organization a request may read: its own, or any with ``metrics:admin``."""
    claims = tenant_of(conn)
    asked = conn.query_params.get("organization_id")
    if asked is None:
        return claims.organization_id
    try:
        org = uuid.UUID(asked)
    except ValueError:
        raise ApiError(400, "bad_organization_id", "organization_id is not a UUID.") from None
    if org != claims.organization_id and not claims.admin:
        raise ApiError(403, "forbidden", "This token may only read its own organization.")
    return org


def redact(text: str) -> str:
    """``text`` with any ``access_token=`` value replaced, for logs."""
    return _TOKEN_IN_QUERY.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Removes ``access_token`` values from uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
