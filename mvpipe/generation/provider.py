"""The provider contract: what a video generator can do (as data), what we ask of it, what it gives back.

No stage branches on a provider's name: the planner reads :class:`Capabilities` to choose clip
lengths, sizes and how references travel; the runner reads them to decide concurrency and cost.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from mvpipe.workspace import file_digest


class Shape(BaseModel):
    """One output a model renders: its pixels, the values its provider's own fields take for it, its price.

    Adapters send ``aspect`` and ``resolution`` (or ``width``/``height``) in their provider's field format;
    the planner picks the shape that best covers the output and prices the clip at it.
    """

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    aspect: str = Field(description="the provider's aspect value for this shape, e.g. '16:9'")
    resolution: str = Field(description="the provider's resolution value for this shape, e.g. '720p'")
    price: float = Field(ge=0, description="USD per second without sound")
    audio_price: float | None = Field(default=None, ge=0,
                                      description="USD per second with sound; None: no sound at this shape")
    durations: list[float] = Field(default_factory=list,
                                   description="the only lengths accepted at this shape (Veo 1080p: 8 s); empty: all")

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def rate(self, audio: bool) -> float:
        """USD per second, with or without sound (a shape that has no sound is priced silent)."""
        return self.audio_price if audio and self.audio_price is not None else self.price

    def cover(self, width: int, height: int) -> tuple[bool, float, float]:
        """How well this shape covers a ``width``x``height`` output: (opposite orientation, share cropped,
        upscale still needed; under 5 % counts as none). Smaller is better, in that order."""
        out, own = width / height, self.width / self.height
        opposite = (out - 1) * (own - 1) < 0 and abs(out - 1) > 0.01 and abs(own - 1) > 0.01
        crop = 1 - min(out, own) / max(out, own)
        upscale = max(width / self.width, height / self.height)
        upscale -= 1
        return opposite, round(crop, 3) if crop > 0.05 else 0.0, round(upscale, 3) if upscale > 0.05 else 0.0


def shape_table(sizes: Mapping[str, tuple[int, int]], resolution: str, price: float,
                audio_price: float | None = None, durations: tuple[float, ...] = ()) -> list[Shape]:
    """Shapes sharing a resolution and a price, from ``{aspect: (width, height)}``."""
    return [Shape(width=w, height=h, aspect=aspect, resolution=resolution, price=price, audio_price=audio_price,
                  durations=list(durations)) for aspect, (w, h) in sizes.items()]


class ImageLimit(BaseModel):
    """What a provider documents for an inline image: longest side, bytes, formats."""

    model_config = ConfigDict(frozen=True)

    max_side: int = Field(gt=0, description="longest side in pixels")
    min_side: int = Field(default=1, ge=1, description="shortest side in pixels")
    max_bytes: int = Field(gt=0, description="bytes of the encoded image (before base64)")
    formats: tuple[str, ...] = Field(default=("PNG", "JPEG"), description="Pillow format names accepted")


class Capabilities(BaseModel):
    """One provider model's limits and prices, declared as data (each adapter cites its sources and dates)."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model: str
    durations: list[float] = Field(default_factory=list, description="discrete accepted clip lengths (s)")
    duration_range: tuple[float, float] | None = Field(
        default=None, description="(min, max) seconds when any length on a step grid is accepted")
    duration_step: float = Field(default=1.0, gt=0, description="grid step inside duration_range")
    shapes: list[Shape] = Field(default_factory=list,
                                description="every output the model accepts; empty: any size (local renderers)")
    max_references: int = Field(default=0, description="native reference images per request")
    references_as: Literal["native", "first_frame", "none"] = Field(
        default="none", description="how character references travel: natively, or via a first-frame keyframe")
    first_frame: bool = Field(default=False, description="takes an image as the first frame (continue: previous)")
    native_audio: bool = False
    price_per_second: float = Field(default=0.0, ge=0, description="USD per second where no shapes are declared")
    retires: date | None = None
    key_env: list[str] = Field(default_factory=list, description="environment variables holding the key")
    local: bool = Field(default=False, description="runs on this machine; costs nothing")
    concurrency: int = Field(default=4, ge=1, description="jobs in flight at once")
    reference_durations: list[float] = Field(
        default_factory=list, description="the only lengths accepted when references travel natively (Veo: 8)")
    first_frame_durations: list[float] = Field(
        default_factory=list, description="the only lengths accepted with a first frame (Luma ray-3.2: 5 s)")
    requires_first_frame: bool = Field(default=False, description="no text-only mode: a keyframe is made first")
    keyframe_model: str | None = Field(
        default=None, description="image model making a keyframe from the references; None: a reference is the frame")
    keyframe_price: float = Field(default=0.0, ge=0, description="USD per keyframe image, where one is made")
    reference_limit: ImageLimit | None = Field(
        default=None, description="the pixel size, bytes and formats its inline images must keep to")
    refuses_faces: bool = Field(default=False, description="refuses a first frame showing a real person's face")

    @property
    def spec(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def max_seconds(self) -> float:
        if self.durations:
            return max(self.durations)
        if self.duration_range:
            return self.duration_range[1]
        return math.inf

    def covering_seconds(self, seconds: float) -> float:
        """The shortest clip length this model accepts that is at least ``seconds`` long.

        Callers split anything longer than :attr:`max_seconds` first; past it this returns the max.
        """
        durations = self.durations
        if durations:
            fits = [d for d in sorted(durations) if d >= seconds - 1e-9]
            return fits[0] if fits else max(durations)
        if self.duration_range:
            lo, hi = self.duration_range
            steps = math.ceil((max(seconds, lo) - lo) / self.duration_step - 1e-9)
            return min(hi, round(lo + steps * self.duration_step, 6))
        return seconds

    def seconds_for(self, request: ClipRequest) -> float:
        """The clip length actually asked of the provider: native references may force a longer one."""
        if self.reference_durations and self.references_as == "native" and request.references:
            fits = [d for d in sorted(self.reference_durations) if d >= request.seconds - 1e-9]
            return fits[0] if fits else max(self.reference_durations)
        return request.seconds

    def needs_keyframe(self, request: ClipRequest, first_frame: Path | None) -> bool:
        """Whether a keyframe image must be made first: refs travel as a first frame, or one is required."""
        if first_frame is not None or self.local or self.keyframe_model is None:
            return False
        return self.requires_first_frame or (self.references_as == "first_frame" and bool(request.references))

    def narrowed(self, shape: Shape | None, first_frame: bool) -> Capabilities:
        """These capabilities with the lengths ``shape`` (and a first frame, where one is sent) allow."""
        lengths = shape.durations if shape is not None and shape.durations else []
        if first_frame and self.first_frame_durations:
            lengths = [d for d in lengths if d in self.first_frame_durations] if lengths else self.first_frame_durations
        if not lengths:
            return self
        return self.model_copy(update={"durations": sorted(lengths), "duration_range": None})

    def pick_shape(self, width: int, height: int, audio: bool = False) -> Shape | None:
        """The accepted shape that best covers a ``width``x``height`` output: same orientation, least crop,
        least upscale, then the cheapest; with ``audio``, among the shapes that make sound where any do.
        None where the model takes any size."""
        pool = [s for s in self.shapes if s.audio_price is not None] if audio else []
        pool = pool or self.shapes
        if not pool:
            return None
        return min(pool, key=lambda s: (*s.cover(width, height), s.rate(audio)))

    def shape_of(self, request: ClipRequest) -> Shape | None:
        """The declared shape ``request`` asks for (None: the model declares none, or it is not one of them)."""
        return next((s for s in self.shapes if (s.width, s.height, s.resolution) ==
                     (request.width, request.height, request.resolution)), None)

    def estimate(self, request: ClipRequest, first_frame: Path | None = None) -> float:
        """Estimated USD for ``request``: the clip at the shape it asks for, plus its keyframe where one is needed."""
        if self.local:
            return 0.0
        keyframe = self.keyframe_price if self.needs_keyframe(request, first_frame) else 0.0
        return round(self.price(self.seconds_for(request), request) + keyframe, 4)

    def price(self, seconds: float, request: ClipRequest | None = None) -> float:
        """USD for ``seconds`` of ``request``'s clip, at its shape and with its sound, as the provider bills
        (no request: the first shape's silent rate)."""
        if self.local:
            return 0.0
        if request is None:
            return round(seconds * (self.shapes[0].price if self.shapes else self.price_per_second), 4)
        shape = self.shape_of(request) or self.pick_shape(request.width, request.height, request.audio)
        rate = shape.rate(request.audio) if shape is not None else self.price_per_second
        return round(seconds * rate, 4)


class CharacterRef(BaseModel):
    """A character as it travels with a request: its name and its reference images."""

    model_config = ConfigDict(frozen=True)

    name: str
    references: list[Path] = Field(default_factory=list)
    ids: dict[str, str] = Field(default_factory=dict,
                                description="provider name -> that provider's own character id, where configured")


class ClipRequest(BaseModel):
    """Everything that shapes one generated clip. Its :meth:`cache_key` changes iff the clip would."""

    model_config = ConfigDict(frozen=True)

    shot: str
    shot_number: int = Field(description="1-based position of the shot in the storyboard")
    part: int = Field(default=0, description="index when a segment longer than the model's max is split")
    take: int = 1
    provider: str
    model: str
    prompt: str = Field(description="final prompt text: shot prompt, characters, camera, style")
    negative_prompt: str | None = None
    seconds: float = Field(description="clip length requested from the provider")
    width: int = Field(description="pixels asked of the model: its shape's, or the output's where it takes any")
    height: int
    aspect: str = Field(description="the aspect value sent to the provider (its shape's)")
    resolution: str | None = Field(default=None, description="the resolution value sent, where the model has shapes")
    fps: int
    characters: list[CharacterRef] = Field(default_factory=list, description="in storyboard order")
    continue_from: str | None = Field(default=None, description="shot whose last frame is our first frame")
    footage: Path | None = None
    seed: int | None = None
    audio: bool = Field(default=False, description="ask for the clip's own sound")

    @property
    def references(self) -> list[Path]:
        """All characters' reference images, flattened in order."""
        return [ref for ch in self.characters for ref in ch.references]

    def cache_key(self, first_frame: Path | None = None, resolved: dict[str, str] | None = None) -> str:
        """Hash of every input that shapes the clip, reference and first-frame bytes included.

        ``resolved``: what the provider found locally for it (:meth:`Provider.key_inputs`).
        """
        skip = {"shot_number"} | ({"resolution"} if self.resolution is None else set())  # keys made before it stay
        doc = self.model_dump(mode="json", exclude=skip)
        doc["characters"] = [[c.name, [file_digest(p) for p in c.references], *([c.ids] if c.ids else [])]
                             for c in self.characters]
        doc["first_frame"] = file_digest(first_frame) if first_frame else None
        if resolved:  # only where there is some, so every other key stays what it was
            doc["resolved"] = resolved
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:32]


class Take(BaseModel):
    """A clip file produced for one clip request (or the placeholder used when generation failed)."""

    shot: str
    part: int = 0
    take: int = 1
    key: str
    path: Path
    provider: str
    model: str
    job_id: str | None = None
    cost_usd: float = 0.0
    status: Literal["done", "failed", "skipped"] = Field(
        default="done", description="'failed': a stand-in card with the reason; 'skipped': outside --only")
    error: str | None = Field(default=None, description="the provider's reason when status is 'failed'")


class Provider(ABC):
    """A video generator. Subclasses declare their models' :class:`Capabilities` as data."""

    name: ClassVar[str]

    @abstractmethod
    def models(self) -> list[Capabilities]:
        """Every model this provider offers; the first is the default."""

    def capabilities(self, model: str | None = None) -> Capabilities:
        """The capabilities of ``model`` (default: the first declared)."""
        available = self.models()
        if model is None:
            return available[0]
        for caps in available:
            if caps.model == model:
                return caps
        raise KeyError(model)

    def key_inputs(self, request: ClipRequest) -> dict[str, str]:
        """What this provider resolves on this machine that shapes the clip (a picked file's digest, say),
        for the cache key: a change there must invalidate the take."""
        return {}

    def render(self, request: ClipRequest, dest: Path, first_frame: Path | None = None) -> None:
        """Produce the clip for ``request`` at ``dest`` (complete file, or raise). Local providers only."""
        raise NotImplementedError(f"{self.name} renders remotely; the runner drives its jobs")


class JobState(BaseModel):
    """A remote job as one poll saw it, in words common to every provider."""

    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float | None = Field(default=None, description="percent, where the provider reports it")
    error: str | None = Field(default=None, description="the provider's own reason for a failure")
    retryable: bool = Field(default=False, description="a failure the provider says a new attempt may fix")
    download_url: str | None = None
    expires_at: float | None = Field(default=None, description="unix time the download link dies")
    poll_after: float | None = Field(default=None, description="seconds until the provider wants the next poll")
    billed: bool = Field(default=False, description="a failure the provider still charges for (Runway SAFETY.INPUT)")
