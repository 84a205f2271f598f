"""Local bearer tokens: `lake token` signs them, `lake serve` verifies them (PyJWT, HS256).

The signing key is random, generated once per workdir into `state/api-token.key` (owner-only,
like every secret local mode keeps there); rotating it (`--rotate-key`) invalidates every token
issued before. Tokens carry the same claims the Cognito authorizer hands the API in AWS
(`sub`, `cognito:groups`) plus `iss`, `aud`, `iat` and `exp`; all are required on verification.

Example:
    >>> key = signing_key(Workdir.at(".lake"))
    >>> token = issue(key, Principal.from_groups("me", ["facility:FAC-003"]), hours=8)
    >>> verify(key, token).facilities
    frozenset({'FAC-003'})
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import jwt

from api.principal import Principal, parse_groups

ISSUER = "surgical-lake-local"
AUDIENCE = "surgical-lake-api"
ALGORITHM = "HS256"
GROUPS_CLAIM = "cognito:groups"  # the claim name Cognito uses, so both modes parse one shape
KEY_FILE = "api-token.key"
DEFAULT_HOURS = 12.0
MAX_HOURS = 24.0 * 30


class TokenError(ValueError):
    """Missing, malformed, forged or expired token; the message says which, never the token."""


def key_path(state_dir: Path) -> Path:
    return state_dir / KEY_FILE


def signing_key(state_dir: Path, rotate: bool = False) -> bytes:
    """The workdir's HS256 key (256 random bits, created 0600 on first use)."""
    path = key_path(state_dir)
    if rotate or not path.exists():
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        tmp.replace(path)
    os.chmod(path, 0o600)
    return bytes.fromhex(path.read_text().strip())


def issue(key: bytes, principal: Principal, hours: float = DEFAULT_HOURS, now: float | None = None) -> str:
    """A signed token for `principal`, valid `hours` (0 < hours <= 30 days)."""
    if not 0 < hours <= MAX_HOURS:
        raise TokenError(f"token lifetime must be between 0 and {MAX_HOURS:.0f} hours, got {hours}")
    issued = int(now if now is not None else time.time())
    claims = {"sub": principal.subject, GROUPS_CLAIM: principal.groups, "iss": ISSUER, "aud": AUDIENCE,
              "iat": issued, "exp": issued + int(hours * 3600)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str) -> Principal:
    """The principal of a valid token; TokenError otherwise (bad signature, expired, wrong
    issuer/audience, missing claims, or an algorithm other than HS256, `none` included)."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {type(exc).__name__}") from exc
    return Principal.from_groups(str(claims["sub"]), parse_groups(claims.get(GROUPS_CLAIM)))
