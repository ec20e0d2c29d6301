"""Local HTTP servers (127.0.0.1, port 0, in a thread) that speak video providers' documented protocols.

Jobs advance on the wall clock (queued -> running n % -> done after ``latency`` seconds) and return
real small MP4s. Faults are injected through :class:`Faults`: status bursts with Retry-After, jobs
stuck at 99 %, moderation failures, lost replies, truncated / cut / slow downloads, expiring links,
and a held submit (the window a crash test kills the client in). Everything the client sent is
recorded, so tests can count submissions and check what went over the wire.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes import contracts
from mvpipe.ffmpeg import ffmpeg_exe

_CLIPS: dict[float, bytes] = {}
_CLIPS_LOCK = threading.Lock()
PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8"
                        "cfc000000301010018dd8db00000000049454e44ae426082")


def clip_bytes(seconds: float) -> bytes:
    """A real, tiny H.264 MP4 of ``seconds`` (made once per length with ffmpeg)."""
    with _CLIPS_LOCK:
        if seconds not in _CLIPS:
            _CLIPS[seconds] = subprocess.run(
                [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                 "testsrc=size=96x54:rate=8", "-t", f"{seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                 "-pix_fmt", "yuv420p", "-threads", "1", "-f", "mp4", "-movflags", "frag_keyframe+empty_moov",
                 "-"], check=True, capture_output=True).stdout
        return _CLIPS[seconds]


@dataclass
class Faults:
    """What goes wrong, and how often. Counters are consumed as faults fire."""

    statuses: dict[str, list[int]] = field(default_factory=dict)  # route -> statuses to answer first
    retry_after: str | None = None  # Retry-After sent with those
    retry_after_ms: str | None = None
    lose_reply: int = 0  # submits that create the job, then answer 500
    stuck: int = 0  # jobs that stop at 99 %
    moderate: str = "FORBIDDEN"  # prompts containing this fail moderation
    bad_output: int = 0  # jobs that fail with a transient, provider-side error (Runway INTERNAL.BAD_OUTPUT)
    truncate: int = 0  # downloads that send half the file, with a matching Content-Length
    cut: int = 0  # downloads that stop half-way (Content-Length says the whole)
    slow: float = 0.0  # seconds between 8 KiB download chunks
    expire_after: float | None = None  # download links die this long after the job completes
    deny_links: int = 0  # signed links refused (403) as if expired; a fresh poll gives working ones
    hold_submit: dict[str, float] = field(default_factory=dict)  # prompt substring -> seconds held
    latency_for: dict[str, float] = field(default_factory=dict)  # prompt substring -> job latency
    echo_key: bool = False  # error bodies quote the Authorization header back (a careless gateway)


@dataclass
class Job:
    id: str
    kind: str
    body: dict[str, Any]
    prompt: str
    seconds: float
    created: float
    latency: float
    stuck: bool = False
    moderated: bool = False
    broken: bool = False
    cancelled: bool = False
    bill: float = 0.0  # USD the provider charges once it succeeds (its price table, fakes/contracts.py)
    bill_failed: bool = False  # charged even when it fails (Runway SAFETY.INPUT)

    def state(self, now: float) -> tuple[str, int]:
        """('queued'|'running'|'succeeded'|'failed'|'cancelled', progress %) at ``now``."""
        t = now - self.created
        if self.cancelled:
            return "cancelled", 0
        if (self.moderated or self.broken) and t >= self.latency / 2:
            return "failed", 50
        if t < self.latency * 0.1:
            return "queued", 0
        if t < self.latency or self.stuck:
            return "running", min(99, int(100 * t / self.latency))
        return "succeeded", 100

    @property
    def completed_at(self) -> float:
        return self.created + self.latency


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    host: str
    at: float = field(default_factory=time.time)
    status: int | None = None  # what the server answered


class Reply(Exception):
    """Raised by a protocol to answer right away."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


class Protocol:
    """One provider's wire format. Subclasses map routes and shapes; the server does the rest."""

    auth_header = "authorization"

    def auth_ok(self, headers: dict[str, str], key: str) -> bool:
        return headers.get(self.auth_header) == f"Bearer {key}"

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        """(route name for faults, response) for a request."""
        raise NotImplementedError


class FakeServer:
    """A threaded HTTP server for one protocol. Use as a context manager."""

    def __init__(self, protocol: Protocol, *, key: str = "sk-test-0000", latency: float = 0.25,
                 faults: Faults | None = None) -> None:
        self.protocol = protocol
        self.key = key
        self.latency = latency
        self.faults = faults or Faults()
        self.jobs: dict[str, Job] = {}
        self.log: list[Recorded] = []
        self.creates: Counter[str] = Counter()  # prompt -> jobs created
        self.downloads: Counter[str] = Counter()  # job id -> downloads served whole
        self.downloaded_at: dict[str, float] = {}  # job id -> when its first whole download ended
        self.on_create: Callable[[Job], None] | None = None  # runs as a job is created, before the reply
        self.lock = threading.Lock()
        self.httpd = _Quiet(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cdn = f"http://localhost:{self.port}"  # another origin: the key must not travel there
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def create(self, kind: str, body: dict[str, Any], prompt: str, seconds: float, bill: float = 0.0) -> Job:
        with self.lock:
            job = Job(id=uuid.uuid4().hex[:16], kind=kind, body=body, prompt=prompt, seconds=seconds, bill=bill,
                      created=time.time(), moderated=self.faults.moderate in prompt,
                      latency=next((v for k, v in self.faults.latency_for.items() if k in prompt), self.latency))
            if self.faults.stuck > 0:
                self.faults.stuck -= 1
                job.stuck = True
            if self.faults.bad_output > 0:
                self.faults.bad_output -= 1
                job.broken = True
            self.jobs[job.id] = job
            self.creates[prompt] += 1
        return job

    def charged(self) -> float:
        """USD billed so far: every job that succeeded, and failed ones the provider charges for."""
        now = time.time()
        return round(sum(j.bill for j in self.jobs.values()
                         if j.state(now)[0] == "succeeded" or (j.bill_failed and j.state(now)[0] == "failed")), 6)

    def refused(self) -> list[Recorded]:
        """Requests answered with a 4xx other than 401/404/429: what the real API would have refused."""
        return [r for r in self.log if r.status is not None and 400 <= r.status < 500
                and r.status not in (401, 404, 429)]

    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise Reply(404, self.protocol.error(404, f"no job {job_id}", "not_found"))
        return job

    def expired(self, job: Job) -> bool:
        return self.faults.expire_after is not None and time.time() > job.completed_at + self.faults.expire_after

    def take_fault(self, name: str) -> bool:
        with self.lock:
            if getattr(self.faults, name) > 0:
                setattr(self.faults, name, getattr(self.faults, name) - 1)
                return True
        return False

    def requests_to(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.log if r.method == method and re.fullmatch(pattern, r.path)]


class _Quiet(ThreadingHTTPServer):
    """Clients that hang up mid-reply (a killed render) are expected here, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Download:
    """A file body to stream (faults apply)."""

    job: Job
    data: bytes
    content_type: str = "video/mp4"


def _handler(srv: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            rec = Recorded(method, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(length) if length else b"", self.headers.get("host", ""))
            with srv.lock:
                srv.log.append(rec)
            try:
                is_cdn = rec.path.startswith("/cdn/")
                if not is_cdn and not srv.protocol.auth_ok(rec.headers, srv.key):
                    quoted = f" (got {rec.headers.get(srv.protocol.auth_header)!r})" if srv.faults.echo_key else ""
                    raise Reply(401, srv.protocol.error(401, "Incorrect API key provided" + quoted, "invalid_api_key"))
                name, result = srv.protocol.route(srv, rec)
                self._fault(name, rec)
                if callable(result):
                    result = result()
                if isinstance(result, Download):
                    return self._download(result)
                status, body, headers = (result if isinstance(result, tuple) else (200, result, {}))
                rec.status = status
                self._send(status, body, headers)
            except Reply as r:
                rec.status = r.status
                self._send(r.status, r.body, r.headers)

        def _fault(self, name: str, rec: Recorded) -> None:
            with srv.lock:
                queue = srv.faults.statuses.get(name) or []
                status = queue.pop(0) if queue else None
            if status is None:
                return
            headers = {}
            if srv.faults.retry_after is not None:
                headers["Retry-After"] = srv.faults.retry_after
            if srv.faults.retry_after_ms is not None:
                headers["retry-after-ms"] = srv.faults.retry_after_ms
            quoted = f" (auth was {rec.headers.get(srv.protocol.auth_header)!r})" if srv.faults.echo_key else ""
            raise Reply(status, srv.protocol.error(status, f"injected {status} on {name}{quoted}"), headers)

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if body is not None and not isinstance(body, bytes):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _download(self, d: Download) -> None:
            data = d.data
            cut = srv.take_fault("cut")
            if srv.take_fault("truncate"):
                data = data[: len(data) // 2]
            self.send_response(200)
            self.send_header("Content-Type", d.content_type)
            self.send_header("Content-Length", str(len(data)))
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            sent = data[: len(data) // 2] if cut else data
            for i in range(0, len(sent), 8192):
                self.wfile.write(sent[i:i + 8192])
                self.wfile.flush()
                if srv.faults.slow:
                    time.sleep(srv.faults.slow)
            if cut:
                self.close_connection = True
                return
            with srv.lock:
                srv.downloads[d.job.id] += 1
                srv.downloaded_at.setdefault(d.job.id, time.time())

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PUT(self) -> None:
            self._serve("PUT")

    return Handler


def check_contract(protocol: Protocol, refusal: contracts.Refusal | None) -> None:
    """Answer as the real API does when its contract refuses the request."""
    if refusal is not None:
        raise Reply(refusal.status, protocol.error(refusal.status, refusal.message, refusal.code))


def hold_and_maybe_lose(srv: FakeServer, job: Job) -> None:
    """After creating a job: hold the reply (crash window) or lose it (answer 500), as the faults say."""
    if srv.on_create:
        srv.on_create(job)
    for needle, seconds in srv.faults.hold_submit.items():
        if needle in job.prompt:
            time.sleep(seconds)
    if srv.take_fault("lose_reply"):
        raise Reply(500, srv.protocol.error(500, "The server had an error while processing your request."))


def _form(rec: Recorded) -> dict[str, Any]:
    """The fields of a multipart/form-data body (files as bytes), as the Videos API also accepts."""
    msg = BytesParser().parsebytes(b"Content-Type: " + rec.headers["content-type"].encode() + b"\r\n\r\n" + rec.body)
    fields: dict[str, Any] = {}
    for part in msg.get_payload():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        fields[name] = data if part.get_filename() else data.decode()
    return fields


# -- protocols -------------------------------------------------------------------------------------


class OpenAIVideos(Protocol):
    """``/v1/videos`` as in openai-openapi.yaml: VideoResource, list, ``/content``, poll hint header."""

    def __init__(self, poll_after_ms: int = 20) -> None:
        self.poll_after_ms = poll_after_ms

    def resource(self, srv: FakeServer, job: Job) -> dict[str, Any]:
        state, progress = job.state(time.time())
        status = {"queued": "queued", "running": "in_progress", "succeeded": "completed"}.get(state, "failed")
        done = status in ("completed", "failed")
        expires = int(job.completed_at + srv.faults.expire_after) if srv.faults.expire_after and done else None
        return {"id": job.id, "object": "video", "model": job.body.get("model", "sora-2"), "status": status,
                "progress": progress, "created_at": int(job.created), "completed_at": int(job.completed_at) if done
                else None, "expires_at": expires, "prompt": job.prompt, "size": job.body.get("size", "720x1280"),
                "seconds": job.body.get("seconds", "4"), "remixed_from_video_id": None,
                "error": {"code": "moderation_blocked", "message": "Your request was blocked by our moderation "
                          "system."} if status == "failed" else None}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        hint = {"openai-poll-after-ms": str(self.poll_after_ms)}
        if rec.method == "POST" and rec.path == "/v1/videos":
            body = _form(rec) if rec.headers.get("content-type", "").startswith("multipart/") else json.loads(rec.body)
            check_contract(self, contracts.openai_create(body))

            def create() -> Any:
                job = srv.create("video", body, body["prompt"], float(body.get("seconds", "4")),
                                 bill=contracts.openai_bill(body))
                hold_and_maybe_lose(srv, job)
                return 200, self.resource(srv, job), hint
            return "submit", create
        if rec.method == "GET" and rec.path == "/v1/videos":
            limit = int(rec.query.get("limit", ["20"])[0])
            jobs = sorted(srv.jobs.values(), key=lambda j: j.created, reverse=True)[:limit]
            data = [self.resource(srv, j) for j in jobs]
            return "list", {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                            "last_id": data[-1]["id"] if data else None, "has_more": False}
        if m := re.fullmatch(r"/v1/videos/([^/]+)/content", rec.path):
            job = srv.job(m[1])
            if job.state(time.time())[0] != "succeeded":
                raise Reply(400, self.error(400, "Video is not ready yet."))
            if srv.expired(job):
                raise Reply(404, self.error(404, "The video's assets have expired."))
            return "download", Download(job, clip_bytes(job.seconds))
        if m := re.fullmatch(r"/v1/videos/([^/]+)", rec.path):
            return "poll", (200, self.resource(srv, srv.job(m[1])), hint)
        raise Reply(404, self.error(404, f"no route {rec.path}"))


class RunwayTasks(Protocol):
    """Runway's ``/v1/*_to_*`` task API: ``{id}`` on create, ``/v1/tasks/{id}``, signed output URLs."""

    def auth_ok(self, headers: dict[str, str], key: str) -> bool:
        return super().auth_ok(headers, key) and headers.get("x-runway-version") == "2024-11-06"

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"error": message}  # shape UNCONFIRMED in Runway's docs; a plain message is what clients see

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        if rec.method == "POST" and rec.path in ("/v1/image_to_video", "/v1/text_to_video", "/v1/text_to_image"):
            body = json.loads(rec.body)
            endpoint = rec.path.removeprefix("/v1/")
            check_contract(self, contracts.runway_create(endpoint, body))
            kind = "image" if rec.path.endswith("image") else "video"

            def create() -> Any:
                job = srv.create(kind, body, body.get("promptText", ""), float(body.get("duration", 0)),
                                 bill=contracts.runway_bill(endpoint, body))
                job.bill_failed = job.moderated  # SAFETY.INPUT failures are not refundable
                hold_and_maybe_lose(srv, job)
                return {"id": job.id}
            return "submit", create
        if m := re.fullmatch(r"/v1/tasks/([^/]+)", rec.path):
            job = srv.job(m[1])
            if rec.method == "DELETE":
                job.cancelled = True
                return "cancel", (204, None, {})
            state, progress = job.state(time.time())
            status = {"queued": "PENDING", "running": "RUNNING", "succeeded": "SUCCEEDED"}.get(state, state.upper())
            task: dict[str, Any] = {"id": job.id, "status": status, "createdAt": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(job.created))}
            if status == "RUNNING":
                task["progress"] = progress / 100
            if status == "SUCCEEDED":
                ext = "png" if job.kind == "image" else "mp4"
                task["output"] = [f"{srv.cdn}/cdn/{job.id}.{ext}?exp={int(time.time()) + 3600}&sig=s3cr3t"]
            if status == "FAILED" and job.broken:
                task["failure"] = "An unexpected error occurred while generating the output."
                task["failureCode"] = "INTERNAL.BAD_OUTPUT.CODE01"
            elif status == "FAILED":
                task["failure"] = "Your prompt was flagged by our content moderation."
                task["failureCode"] = "SAFETY.INPUT.TEXT"
            return "poll", task
        if m := re.fullmatch(r"/cdn/([^/.]+)\.(mp4|png)", rec.path):
            job = srv.job(m[1])
            if srv.expired(job) or srv.take_fault("deny_links"):
                raise Reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
            if m[2] == "png":
                return "download", Download(job, PNG_1x1, "image/png")
            return "download", Download(job, clip_bytes(job.seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))


class GeminiVeo(Protocol):
    """Gemini API ``models/{m}:predictLongRunning`` operations and file downloads."""

    auth_header = "x-goog-api-key"

    def auth_ok(self, headers: dict[str, str], key: str) -> bool:
        return headers.get(self.auth_header) == key

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 503: "UNAVAILABLE"}
        return {"error": {"code": status, "message": message, "status": names.get(status, "UNKNOWN")}}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        if m := re.fullmatch(r"/v1beta/models/([^/:]+):predictLongRunning", rec.path):
            body = json.loads(rec.body)
            model = m[1]
            check_contract(self, contracts.veo_create(body))

            def create() -> Any:
                seconds = float(body["parameters"]["durationSeconds"])
                job = srv.create("video", body, body["instances"][0]["prompt"], seconds,
                                 bill=contracts.veo_bill(model, body))
                hold_and_maybe_lose(srv, job)
                return {"name": f"models/{model}/operations/{job.id}"}
            return "submit", create
        if m := re.fullmatch(r"/v1beta/models/([^/]+)/operations/([^/]+)", rec.path):
            job = srv.job(m[2])
            state, _ = job.state(time.time())
            op: dict[str, Any] = {"name": rec.path.removeprefix("/v1beta/"), "done": state not in ("queued", "running")}
            if state == "succeeded":
                op["response"] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                                  "PredictLongRunningResponse", "generateVideoResponse": {"generatedSamples": [
                                      {"video": {"uri": f"{srv.url}/v1beta/files/{job.id}:download?alt=media"}}]}}
            elif state == "failed":
                op["response"] = {"generateVideoResponse": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [
                    "Your video was blocked because it may violate our usage guidelines."]}}
            return "poll", op
        if m := re.fullmatch(r"/v1beta/files/([^/:]+):download", rec.path):
            job = srv.job(m[1])
            if srv.expired(job):
                raise Reply(404, self.error(404, "File not found."))
            return "download", Download(job, clip_bytes(job.seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))
