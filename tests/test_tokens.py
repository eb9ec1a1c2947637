"""Tokens: minting, verification, pinned algorithms, the generated secret."""

from __future__ import annotations

import stat
import time
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from atum_metrics.cli import UsageError
from atum_metrics.settings import Settings
from atum_metrics.tokens import TokenError, Verifier, mint_token, with_signing_key

SECRET = "s" * 64
ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")


def test_minted_token_verifies_with_its_claims() -> None:
    settings = Settings(jwt_secret=SECRET)
    claims = Verifier(settings).verify(
        mint_token(settings, ORG, admin=True, ttl=timedelta(hours=1))
    )
    assert claims.organization_id == ORG
    assert claims.admin is True
    assert claims.expires_at == pytest.approx(time.time() + 3600, abs=5)


def test_expired_token_is_refused() -> None:
    settings = Settings(jwt_secret=SECRET)
    token = jwt.encode({"org_id": str(ORG), "exp": int(time.time()) - 1}, SECRET, "HS256")
    with pytest.raises(TokenError, match="expired"):
        Verifier(settings).verify(token)


@pytest.mark.parametrize(
    "claims",
    [{"org_id": str(ORG)}, {"exp": 2**31}, {"org_id": "not-a-uuid", "exp": 2**31}],
    ids=["no-exp", "no-org", "bad-org"],
)
def test_tokens_without_required_claims_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(TokenError):
        Verifier(Settings(jwt_secret=SECRET)).verify(jwt.encode(claims, SECRET, "HS256"))


def test_unsigned_and_wrongly_signed_tokens_are_refused() -> None:
    verifier = Verifier(Settings(jwt_secret=SECRET))
    claims = {"org_id": str(ORG), "exp": 2**31}
    with pytest.raises(TokenError):
        verifier.verify(jwt.encode(claims, None, "none"))
    with pytest.raises(TokenError):
        verifier.verify(jwt.encode(claims, "another-secret-" + "x" * 32, "HS256"))
    with pytest.raises(TokenError):
        verifier.verify(jwt.encode(claims, SECRET, "HS512"))  # not a pinned algorithm


def _pems(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_asymmetric_keys_mint_and_verify(kind: str) -> None:
    key = (
        rsa.generate_private_key(65537, 2048)
        if kind == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    private, public = _pems(key)
    token = mint_token(
        Settings(jwt_private_key=private), ORG, admin=False, ttl=timedelta(minutes=5)
    )
    assert jwt.get_unverified_header(token)["alg"] == kind
    claims = Verifier(Settings(jwt_public_key=public)).verify(token)
    assert claims.organization_id == ORG and claims.admin is False
    # The public key must not double as an HMAC secret (algorithm confusion).
    forged = jwt.encode({"org_id": str(ORG), "exp": 2**31}, "x" * 40, "HS256")
    with pytest.raises(TokenError):
        Verifier(Settings(jwt_public_key=public)).verify(forged)


def test_minting_with_only_a_public_key_is_a_usage_error() -> None:
    _, public = _pems(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(UsageError, match="ATUM_JWT_PRIVATE_KEY"):
        mint_token(Settings(jwt_public_key=public), ORG, admin=False, ttl=timedelta(hours=1))


def test_signing_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = with_signing_key(settings)
    second = with_signing_key(settings)
    path = tmp_path / "data" / "jwt_secret"
    assert first.jwt_secret == second.jwt_secret
    assert first.jwt_secret is not None and len(first.jwt_secret) == 128
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = mint_token(first, ORG, admin=False, ttl=timedelta(hours=1))
    assert Verifier(second).verify(token).organization_id == ORG


def test_configured_secret_is_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jwt_secret=SECRET)
    assert with_signing_key(settings).jwt_secret == SECRET
    assert not (tmp_path / "jwt_secret").exists()
