"""Cognito token verification (chalicelib.web.auth.tokens), with keys made in the test."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.web.auth.tokens import InvalidToken, KeySet, TokenVerifier, issuer_url
from support.cognito import CLIENT_ID, ISSUER, POOL_ID, REGION, FakePool, unsigned_token

NOW = 1_760_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


@pytest.fixture
def verifier(pool: FakePool) -> TokenVerifier:
    keys = KeySet(f"{ISSUER}/.well-known/jwks.json", fetch=pool.fetch, clock=Clock(0.0))
    return TokenVerifier(ISSUER, CLIENT_ID, keys, clock=Clock(NOW))


def test_issuer_is_the_aws_form() -> None:
    assert issuer_url(REGION, POOL_ID) == ISSUER
    made = TokenVerifier.for_pool(REGION, POOL_ID, CLIENT_ID)
    assert made.issuer == ISSUER and made.keys.url == f"{ISSUER}/.well-known/jwks.json"


def test_an_emulators_pool_keeps_the_issuer_and_serves_its_keys_elsewhere() -> None:
    # ministack signs with AWS's issuer but publishes the keys on its own gateway (COGNITO_JWKS_URL)
    url = f"http://localhost:4566/{POOL_ID}/.well-known/jwks.json"
    made = TokenVerifier.for_pool(REGION, POOL_ID, CLIENT_ID, jwks_url=url)
    assert made.issuer == ISSUER and made.keys.url == url


def test_a_valid_id_token_gives_its_claims(pool: FakePool, verifier: TokenVerifier) -> None:
    claims = verifier.verify(pool.token(now=NOW))
    assert (claims.subject, claims.username, claims.email, claims.token_use) == (
        "2f0c4f0e-1111-2222-3333-444455556666", "ann", "ann@example.org", "id")
    assert claims.expires_at == int(NOW) + 3600


def test_a_valid_access_token_checks_client_id(pool: FakePool, verifier: TokenVerifier) -> None:
    assert verifier.verify(pool.token("access", now=NOW), token_use="access").username == "ann"
    with pytest.raises(InvalidToken, match="another app client"):
        verifier.verify(pool.token("access", now=NOW, client_id="someone-else"), token_use="access")


def test_expired_token_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    token = pool.token(now=NOW - 7200)  # expired an hour ago
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_token_from_the_future_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="future"):
        verifier.verify(pool.token(now=NOW + 3600))


def test_wrong_issuer_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    token = pool.token(now=NOW, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
    with pytest.raises(InvalidToken, match="InvalidIssuer"):
        verifier.verify(token)


def test_wrong_audience_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="InvalidAudience"):
        verifier.verify(pool.token(now=NOW, aud="another-client"))


@pytest.mark.parametrize(("given", "expected"), [("access", "id"), ("id", "access")])
def test_wrong_token_use_is_refused(pool: FakePool, verifier: TokenVerifier, given: str, expected: str) -> None:
    # an access token where an ID token is expected, and the reverse (same client on both)
    token = pool.token(given, now=NOW, aud=CLIENT_ID, client_id=CLIENT_ID)
    with pytest.raises(InvalidToken, match=f"not an {expected} token"):
        verifier.verify(token, token_use=expected)


def test_bad_signature_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    # signed by another key under the pool's kid
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken, match="InvalidSignature"):
        verifier.verify(pool.token(now=NOW, key=other))


def test_tampered_payload_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    header, payload, signature = pool.token(now=NOW).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["cognito:username"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header}.{forged}.{signature}")


def test_alg_none_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="algorithm 'none'"):
        verifier.verify(unsigned_token(pool.claims(now=NOW)))


def test_hs256_with_the_public_key_is_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    # the classic key confusion: an HMAC "signed" with the published key
    token = jwt.encode(pool.claims(now=NOW), "a-guessed-secret-of-32-bytes-xxxx", algorithm="HS256", headers={"kid": pool.kid})
    with pytest.raises(InvalidToken, match="HS256"):
        verifier.verify(token)


def test_missing_claims_are_refused(pool: FakePool, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="MissingRequiredClaim"):
        verifier.verify(pool.token(now=NOW, token_use=None))


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "x" * 20_000])
def test_junk_is_refused(verifier: TokenVerifier, junk: str) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(junk)


def test_unknown_kid_is_refused_and_refetches_at_most_once_a_minute(pool: FakePool) -> None:
    clock = Clock(1000.0)
    keys = KeySet(f"{ISSUER}/.well-known/jwks.json", fetch=pool.fetch, clock=clock)
    verifier = TokenVerifier(ISSUER, CLIENT_ID, keys, clock=Clock(NOW))
    verifier.verify(pool.token(now=NOW))
    verifier.verify(pool.token(now=NOW))
    assert pool.fetches == 1  # cached per process
    for _ in range(5):
        with pytest.raises(InvalidToken, match="key id"):
            verifier.verify(pool.token(now=NOW, headers={"kid": "rotated-or-forged"}))
    assert pool.fetches == 1  # the keys were fetched less than a minute ago: no refetch
    clock.now += 61
    for _ in range(5):
        with pytest.raises(InvalidToken, match="key id"):
            verifier.verify(pool.token(now=NOW, headers={"kid": "rotated-or-forged"}))
    assert pool.fetches == 2  # one refetch, then none within the minute


def test_a_rotated_key_is_picked_up(pool: FakePool) -> None:
    clock = Clock(1000.0)
    keys = KeySet(f"{ISSUER}/.well-known/jwks.json", fetch=pool.fetch, clock=clock)
    verifier = TokenVerifier(ISSUER, CLIENT_ID, keys, clock=Clock(NOW))
    verifier.verify(pool.token(now=NOW))
    clock.now += 120
    pool.kid, pool.key = "test-key-2", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert verifier.verify(pool.token(now=NOW)).username == "ann"


def test_unreachable_jwks_is_a_refusal_not_a_crash(pool: FakePool) -> None:
    def broken(url: str) -> dict:
        raise OSError("connection refused")

    verifier = TokenVerifier(ISSUER, CLIENT_ID, KeySet("https://x/jwks", fetch=broken), clock=Clock(NOW))
    with pytest.raises(InvalidToken, match="could not be fetched"):
        verifier.verify(pool.token(now=NOW))


def test_jwks_entries_of_other_kinds_are_ignored(pool: FakePool) -> None:
    document = pool.jwks()
    document["keys"] = [dict(document["keys"][0], alg="RS512"), {"kty": "oct", "kid": pool.kid, "k": "c2VjcmV0"}]
    verifier = TokenVerifier(ISSUER, CLIENT_ID, KeySet("https://x/jwks", fetch=lambda url: document),
                             clock=Clock(NOW))
    with pytest.raises(InvalidToken, match="key id"):
        verifier.verify(pool.token(now=NOW))
