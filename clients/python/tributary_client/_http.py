"""HTTP with the standard library: JSON in and out, Arrow bodies, streamed answers, coded errors."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from .errors import TributaryError

ARROW_STREAM = "application/vnd.apache.arrow.stream"

Query = Sequence[Tuple[str, str]]


class Transport:
    def __init__(self, url: str, api_key: Optional[str], timeout: float) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"the server URL must be http(s)://host[:port], not {url!r}")
        self.base = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def _headers(self, extra: Mapping[str, str]) -> Dict[str, str]:
        headers = {"user-agent": "tributary-client-python", **extra}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def open(
        self,
        method: str,
        path: str,
        *,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        accept: str = "application/json",
        query: Query = (),
    ) -> http.client.HTTPResponse:
        """Sends the request; returns the open response of a 2xx, else raises TributaryError."""
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(list(query))
        headers = {"accept": accept}
        if content_type is not None:
            headers["content-type"] = content_type
        request = urllib.request.Request(url, data=body, method=method, headers=self._headers(headers))
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310 (http(s) checked above)
        except urllib.error.HTTPError as error:
            raise error_from_response(error.code, error.read(), method, path) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise TributaryError(
                "TRIB_SERVICE_UNAVAILABLE",
                f"could not reach the Tributary server at {self.base} ({method} {path}): {reason}",
            ) from error

    def json(
        self,
        method: str,
        path: str,
        payload: Optional[Any] = None,
    ) -> Any:
        body = None if payload is None else dumps(payload)
        response = self.open(
            method, path, body=body, content_type=None if body is None else "application/json"
        )
        with response:
            try:
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                raise broken(method, path, error) from error
        try:
            return json.loads(data)
        except ValueError as error:
            raise TributaryError(
                "TRIB_INTERNAL", f"{method} {path} answered with a body that is not JSON: {error}"
            ) from error


def dumps(payload: Any) -> bytes:
    # allow_nan=False: NaN and Infinity are not JSON; callers turn them into null or refuse them first.
    return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")


def broken(method: str, path: str, error: BaseException) -> TributaryError:
    return TributaryError(
        "TRIB_SERVICE_UNAVAILABLE",
        f"the answer to {method} {path} broke off before its end: {error}",
    )


def error_from_response(status: int, body: Union[bytes, str], method: str, path: str) -> TributaryError:
    """The server's ``{"error": {"code", "message"}}``, or a coded stand-in for any other answer."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        error = json.loads(text)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        # Not Tributary's shape (a proxy in front of it, say): keep what it said.
        code = "TRIB_SERVICE_UNAVAILABLE" if status in (502, 503, 504) else "TRIB_INTERNAL"
        message = f"{method} {path} answered HTTP {status}: {text[:500]}"
    return TributaryError(code, message, status=status)
