"""Tokens: mint and verify the JWTs that carry the tenant (PyJWT, algorithms pinned)."""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt

from atum_metrics.settings import Settings

ADMIN_SCOPE = "metrics:admin"
SECRET_FILE = "jwt_secret"
HMAC_ALGORITHMS = ["HS256"]
# Never "none", never HS* with a public key (the classic key-confusion attack).
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]


class TokenError(Exception):
    """A token we do not accept; the message is one sentence for the client."""


@dataclasses.dataclass(frozen=True, slots=True)
class Claims:
    organization_id: uuid.UUID
    admin: bool
    expires_at: float  # seconds since the epoch (the ``exp`` claim)


def with_signing_key(settings: Settings) -> Settings:
    """Settings with a key: the configured one, else ``<data_dir>/jwt_secret`` (created 0600)."""
    if settings.jwt_secret or settings.jwt_public_key:
        return settings
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: a process starting at the same moment sees
        # either no file or a whole one, never an empty one.
        draft = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(64) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return settings.replace(jwt_secret=path.read_text(encoding="ascii").strip())


def _signing_key(settings: Settings) -> tuple[str, str]:
    if settings.jwt_public_key or settings.jwt_private_key:
        from atum_metrics.cli import UsageError

        if not settings.jwt_private_key:
            raise UsageError("ATUM_JWT_PUBLIC_KEY only verifies; set ATUM_JWT_PRIVATE_KEY to mint")
        key = settings.jwt_private_key
        return key, "ES256" if _is_ec(key) else "RS256"
    if not settings.jwt_secret:
        from atum_metrics.cli import UsageError

        raise UsageError("no signing key: set ATUM_JWT_SECRET or ATUM_JWT_PRIVATE_KEY")
    return settings.jwt_secret, "HS256"


def _is_ec(pem: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return isinstance(load_pem_private_key(pem.encode(), password=None), ec.EllipticCurvePrivateKey)


def mint_token(settings: Settings, org_id: uuid.UUID, *, admin: bool, ttl: timedelta) -> str:
    """A signed token for ``org_id`` that expires after ``ttl``."""
    key, algorithm = _signing_key(settings)
    now = int(time.time())
    claims: dict[str, Any] = {
        "org_id": str(org_id),
        "iat": now,
        "exp": now + int(ttl.total_seconds()),
    }
    if admin:
        claims["scope"] = ADMIN_SCOPE
    return jwt.encode(claims, key, algorithm=algorithm)


class Verifier:
    """Checks signatures with the configured key; built once per app."""

    def __init__(self, settings: Settings) -> None:
        if settings.jwt_public_key:
            self._key: str = settings.jwt_public_key
            self._algorithms = ASYMMETRIC_ALGORITHMS
        elif settings.jwt_secret:
            self._key = settings.jwt_secret
            self._algorithms = HMAC_ALGORITHMS
        else:
            raise ValueError("no key to verify tokens: set ATUM_JWT_SECRET or ATUM_JWT_PUBLIC_KEY")

    def verify(self, token: str) -> Claims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("The token has expired.") from None
        except jwt.InvalidTokenError:
            raise TokenError("The token is not valid.") from None
        return _claims(claims)


def _claims(claims: dict[str, Any]) -> Claims:
    try:
        org = uuid.UUID(str(claims["org_id"]))
    except (KeyError, ValueError):
        raise TokenError("The token has no valid org_id claim.") from None
    scope = claims.get("scope", "")
    scopes = scope.split() if isinstance(scope, str) else []
    return Claims(organization_id=org, admin=ADMIN_SCOPE in scopes, expires_at=float(claims["exp"]))
