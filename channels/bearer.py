"""The one check of an `Authorization: Bearer <secret>` header (the action server's secret, the REST token)."""

from __future__ import annotations

import hmac


def bearer_matches(header: str | None, token: str) -> bool:
    """Constant-time check of an `Authorization: Bearer <token>` header."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
