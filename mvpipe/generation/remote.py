"""Remote providers: the :class:`RemoteProvider` contract (submit, poll, download) and the HTTP every adapter
shares (:class:`ApiClient`: auth, base URL, retries, downloads).

Adapters only map fields; this module decides what is worth retrying (408/409/429/5xx and network
errors, honouring ``Retry-After``/``retry-after-ms``), what fails at once (other 4xx, with the
provider's own message), and keeps the key on the API's own host and out of every message.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from abc import abstractmethod
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from mvpipe import interrupt
from mvpipe.errors import InputError, ProviderError, TransientError
from mvpipe.generation.provider import ClipRequest, JobState, Provider
from mvpipe.workspace import atomic_path

RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures."""

    attempts: int = 6
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 300.0

    def retrying(self) -> Retrying:
        """A tenacity loop over :class:`TransientError`, waiting what the provider asked for if it did."""
        return Retrying(retry=retry_if_exception_type(TransientError), stop=stop_after_attempt(self.attempts),
                        wait=self._wait, reraise=True, sleep=interrupt.sleep)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return min(float(hint), self.max_retry_after)
        return wait_exponential_jitter(multiplier=self.backoff, max=self.max_backoff)(state)


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, or ``Retry-After`` (seconds or a date)."""
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None


def provider_message(resp: httpx.Response) -> str:
    """The provider's own explanation from an error body, whatever its shape."""
    try:
        body: Any = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return resp.text.strip()[:500] or resp.reason_phrase
    if not isinstance(body, dict):
        return json.dumps(body)[:500]
    for path in (("error", "message"), ("error",), ("message",), ("detail",), ("failure",), ("title",)):
        node = body
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            code = body.get("error", {}).get("code") if isinstance(body.get("error"), dict) else None
            return f"{node} ({code})" if code and str(code) not in node else node
        if node is not None and not isinstance(node, dict):
            return json.dumps(node)[:500]
    return json.dumps(body)[:500]


class HeaderAuth(httpx.Auth):
    """The same headers on every request: an API key or bearer token, the common case of per-request auth."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers)
        yield request


class ApiClient:
    """One provider's HTTP session: base URL and key (where it needs one) from the environment, retries,
    safe downloads."""

    def __init__(self, provider: RemoteProvider, *, retry: RetryPolicy | None = None, timeout: float = 60.0,
                 environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        key = env.get(provider.key_env, "").strip()
        if not key and provider.key_required:
            raise InputError(f"{provider.name} needs an API key: set {provider.key_env} in the environment.",
                             field="generator", hint="Or render with the local 'animatic' generator.")
        self.provider = provider
        self.base_url = (env.get(provider.base_url_env) or provider.base_url).rstrip("/") + "/"
        self.retry = retry or RetryPolicy()
        self._key = key
        self._auth = provider.auth(key, env) if key else None
        self._origin = _origin(self.base_url)
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                  follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        """``path`` resolved against the base URL (absolute URLs pass through)."""
        return urljoin(self.base_url, path.lstrip("/")) if not urlsplit(path).scheme else path

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                files: dict[str, Any] | None = None, data: dict[str, str] | None = None,
                idempotent: bool = True) -> httpx.Response:
        """Send one API call (JSON, or multipart ``files`` + form ``data``) and return its 2xx response.

        Idempotent calls are retried here; a non-idempotent one (a paid submit) raises
        :class:`TransientError` so the caller can check whether it went through before resending.
        """
        kw = dict(json=json, params=params, files=files, data=data)
        if not idempotent:
            return self._once(method, path, **kw)
        return self.retry.retrying()(self._once, method, path, **kw)

    def download(self, url: str, dest: Path) -> None:
        """Stream ``url`` to ``dest`` atomically, retrying transient failures and short bodies."""
        self.retry.retrying()(self._fetch, url, dest)

    def scrub(self, text: str) -> str:
        """``text`` with the key blanked out, for anything that may be shown or stored."""
        return text.replace(self._key, "***") if self._key else text

    def _once(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self._call(lambda url, auth: self._http.request(method, url, auth=auth, **kw), path)

    def _fetch(self, url: str, dest: Path) -> None:
        def get(u: str, auth: httpx.Auth | None) -> httpx.Response:
            resp = self._http.send(self._http.build_request("GET", u), auth=auth, stream=True)
            try:
                if not resp.is_success:
                    resp.read()
                    return resp
                with atomic_path(dest) as tmp, open(tmp, "wb") as f:
                    for chunk in resp.iter_bytes(1 << 16):
                        f.write(chunk)
                    expected = resp.headers.get("content-length")
                    if expected is not None and f.tell() != int(expected):
                        raise TransientError(f"download ended after {f.tell()} of {expected} bytes")
                return resp
            finally:
                resp.close()
        self._call(get, url)

    def _call(self, send: Callable[[str, httpx.Auth | None], httpx.Response], path: str) -> httpx.Response:
        """Send, following redirects by hand so the key goes only to the API's own host."""
        url = self.url(path)
        try:
            for _ in range(6):
                resp = send(url, self._auth if _origin(url) == self._origin else None)
                if resp.is_redirect and "location" in resp.headers:
                    url = urljoin(url, resp.headers["location"])
                    continue
                return self._check(resp)
            raise ProviderError(f"{self.provider.name}: too many redirects fetching {_safe(url)}")
        except httpx.TransportError as exc:
            ambiguous = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise TransientError(self.scrub(f"{self.provider.name}: network error: {exc!r}"),
                                 ambiguous=ambiguous) from None

    def _check(self, resp: httpx.Response) -> httpx.Response:
        if resp.is_success:
            return resp
        if verdict := self.provider.classify(resp):
            verdict.args = (self.scrub(str(verdict)),)
            raise verdict
        status = resp.status_code
        message = self.scrub(f"{self.provider.name} answered {status}: {provider_message(resp)}")
        should = resp.headers.get("x-should-retry")
        if should == "true" or (should != "false" and (status in RETRY_STATUSES or status >= 500)):
            raise TransientError(message, retry_after=retry_after(resp.headers), ambiguous=status >= 500)
        raise ProviderError(message, status=status)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _safe(url: str) -> str:
    """A URL without its query (signed links carry credentials there)."""
    return url.split("?", 1)[0]


def unix_time(value: object) -> float:
    """An API's ISO 8601 timestamp (``...Z`` allowed) as Unix time; 0 when missing or unreadable."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class RemoteProvider(Provider):
    """A provider whose clips are paid jobs elsewhere: submit once, poll, download.

    Adapters map fields only; the runner owns retries, polling, journal and verification, and
    ``client`` (an :class:`ApiClient`) owns auth, base URL and HTTP retries.
    """

    base_url: ClassVar[str]
    base_url_env: ClassVar[str]
    key_env: ClassVar[str]
    key_required: ClassVar[bool] = True  # False: a local server; a key, where set, is still sent
    poll_interval: ClassVar[float] = 5.0  # defaults; RunnerSettings may override both
    stall_timeout: ClassVar[float] = 1800.0  # seconds without any change in state or progress (each API: its own)

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        """Signs each request to the API's own host (never one to a download host): a bearer key by default."""
        return HeaderAuth({"Authorization": f"Bearer {key}"})

    def classify(self, response: httpx.Response) -> TransientError | ProviderError | None:
        """An error response the shared rules (status, ``Retry-After``) would misread; None: let them decide.

        For APIs whose body says more than the status (one 429 meaning "too fast" or "no balance").
        """
        return None

    @abstractmethod
    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        """Start the clip job (one POST, which costs money); return the provider's job id."""

    @abstractmethod
    def poll(self, job_id: str, client: ApiClient) -> JobState:
        """The job's state now."""

    def download(self, job_id: str, state: JobState, dest: Path, client: ApiClient) -> None:
        """Fetch the finished job's file to ``dest``."""
        client.download(state.download_url or "", dest)

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        """Stop a job; False where the API has no way to."""
        return False

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        """Ids of jobs created since ``since`` that match ``request``, newest first; None: cannot list."""
        return None

    def submit_keyframe(self, request: ClipRequest, client: ApiClient) -> str:
        """Start a keyframe-image job from the characters' references (where ``keyframe_model`` is set)."""
        raise NotImplementedError(f"{self.name} makes no keyframes")

    def warnings(self, client: ApiClient) -> list[str]:
        """Things the user should know before paying (a retired endpoint, say)."""
        return []
