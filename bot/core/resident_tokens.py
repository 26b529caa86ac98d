"""Who a web or API resident is, as the gateway said, not as the caller claims.

A resident id chosen by the caller let anyone who knew (or guessed) it read
that resident's mediator messages, answer the next question of their
legal-aid form or end their hand-off. So the gateway issues the identity:
`POST /api/v1/residents` hands out a fresh `web:<random>` id with a signed
token (the web page keeps it in localStorage), and every resident endpoint
takes the id from the token in `Authorization: Bearer`, as the WeChat
mini-program's session already did.

An integrator (a partner system with its own logged-in users) holds an
`INTEGRATOR_KEYS` key and asks for the token of an id it chooses: it vouches
for its users, the way a server-to-server key does. Its ids cannot take the
prefixes the gateway gives out itself (web:) or that belong to a pushed
channel (tg:, wx:), so no key speaks for a Telegram, WeChat or web resident.

The tokens are stateless (itsdangerous, signed with the console key under
their own salt): several gateways that share CONSOLE_SECRET accept each
other's, and nothing is stored per resident until they write.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

ISSUED_PREFIX = "web:"
RESERVED_PREFIXES = ("tg:", "wx:", ISSUED_PREFIX)


@dataclass(frozen=True)
class Issued:
    user_id: str
    token: str
    expires_in: int


class ResidentTokens:
    def __init__(self, signing_key: str, max_age_s: int, integrator_keys: str = "") -> None:
        self._serializer = URLSafeTimedSerializer(signing_key, salt="resident-token")
        self.max_age_s = max_age_s
        self._integrator_keys = tuple(k.strip() for k in integrator_keys.split(",") if k.strip())

    def issue_new(self) -> Issued:
        """A fresh resident nobody else can name (128 random bits)."""
        return self.issue(ISSUED_PREFIX + secrets.token_urlsafe(16))

    def issue(self, user_id: str) -> Issued:
        return Issued(user_id, self._serializer.dumps({"uid": user_id}), self.max_age_s)

    def user_of(self, authorization: str | None) -> str | None:
        """The resident a `Bearer` header was issued to, or None (missing, forged, expired)."""
        return signed_bearer(self._serializer, authorization, self.max_age_s, "uid")

    def is_integrator(self, authorization: str | None) -> bool:
        """Whether the header carries one of INTEGRATOR_KEYS (several, so a key can be rotated)."""
        token = bearer(authorization)
        return token is not None and any(hmac.compare_digest(token, key) for key in self._integrator_keys)


def bearer(authorization: str | None) -> str | None:
    if not authorization or authorization[:7].lower() != "bearer ":
        return None
    return authorization[7:].strip() or None


def signed_bearer(
    serializer: URLSafeTimedSerializer, authorization: str | None, max_age_s: int, key: str
) -> str | None:
    """`key` of the signed payload a `Bearer` header carries, or None when the header is
    missing, forged or expired (residents' tokens here, mini-program sessions alike)."""
    token = bearer(authorization)
    if token is None:
        return None
    try:
        data = serializer.loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def reserved(user_id: str) -> bool:
    """Ids an integrator may not choose: the gateway's own and the pushed channels'."""
    return user_id.startswith(RESERVED_PREFIXES)
