"""The one exception the client raises for anything the server (or the road to it) refuses.

The server answers every error with ``{"error": {"code": "TRIB_...", "message": "..."}}``
(docs/errors.md lists the codes); the exception carries both, the HTTP status, and whether the
code is worth retrying, mirroring the server's ``retriable`` flag.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

# The codes shared/errors.ts marks retriable: a dependency is down or busy, not the request bad.
RETRIABLE_CODES = frozenset(
    {
        "TRIB_SERVICE_UNAVAILABLE",
        "TRIB_SHUTTING_DOWN",
        "TRIB_REGISTRY_CONFLICT",
        "TRIB_OFFLINE_STORE_UNAVAILABLE",
        "TRIB_ONLINE_STORE_UNAVAILABLE",
        "TRIB_STREAM_UNAVAILABLE",
        "TRIB_WEBHOOK_FAILED",
    }
)


class TributaryError(Exception):
    """An error with a ``TRIB_*`` code.

    ``status`` is the HTTP status, or ``None`` when no answer came (the server could not be
    reached, or the connection broke mid-answer: code ``TRIB_SERVICE_UNAVAILABLE``).
    ``details`` holds what the client knows besides, such as ``rows_sent`` when a batched
    upload failed part-way.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: Optional[int] = None,
        details: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details: Dict[str, Any] = dict(details or {})

    @property
    def retriable(self) -> bool:
        """True when retrying the same request later may succeed."""
        return self.code in RETRIABLE_CODES

    def __repr__(self) -> str:
        return f"TributaryError(code={self.code!r}, message={self.message!r}, status={self.status!r})"
