"""Model tables for gateways (fal, Replicate) that front many models with one protocol.

What differs between a gateway's models is data: input field names, accepted lengths, sizes,
where the video lands in the output. Each gateway ships a few entries; users add more without
code in a YAML file (``$MVPIPE_MODELS``, else ``$XDG_CONFIG_HOME/mvpipe/models.yaml``)::

    fal:
      - id: fal-ai/some-model/text-to-video
        durations: [5, 10]
        duration_format: string          # int | string | seconds ("5s")
        image_field: image_url           # first frame, when the model takes one
        price_per_second: 0.1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mvpipe.errors import InputError
from mvpipe.generation.media import data_uri
from mvpipe.generation.provider import Capabilities, ClipRequest, ImageLimit, Shape, shape_table
from mvpipe.generation.remote import RemoteProvider


class GatewayModel(BaseModel):
    """One model behind a gateway: how mvpipe's request maps onto its input fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=3, description="the gateway's model id, e.g. owner/name")
    durations: list[float] = Field(default_factory=list)
    duration_range: tuple[float, float] | None = None
    duration_step: float = Field(default=1.0, gt=0)
    duration_field: str | None = "duration"
    duration_format: Literal["int", "string", "seconds"] = "int"
    aspect_field: str | None = "aspect_ratio"
    resolution_field: str | None = Field(default=None, description="input taking the shape's resolution")
    shapes: list[Shape] = Field(default_factory=list,
                                description="accepted outputs with their prices; empty: 16:9 and 9:16 at 720p")
    prompt_field: str = "prompt"
    negative_prompt_field: str | None = None
    seed_field: str | None = "seed"
    image_field: str | None = Field(default=None, description="first-frame image input")
    image_required: bool = False
    references_field: str | None = Field(default=None, description="list input of reference images")
    max_references: int = Field(default=0, ge=0)
    audio_field: str | None = Field(default=None, description="boolean input switching the clip's sound")
    inputs: dict[str, Any] = Field(default_factory=dict, description="fixed inputs sent as they are")
    output: str = Field(default="video.url", description="dotted path to the video URL in the output")
    price_per_second: float = Field(ge=0)
    retires: str | None = None

    def capabilities(self, provider: str, key_env: str, limit: ImageLimit | None = None) -> Capabilities:
        refs_as = "native" if self.references_field else "first_frame" if self.image_field else "none"
        rate, sound = self.price_per_second, self.price_per_second if self.audio_field else None
        return Capabilities(
            provider=provider, model=self.id, durations=self.durations, duration_range=self.duration_range,
            duration_step=self.duration_step, references_as=refs_as,
            shapes=self.shapes or shape_table({"16:9": (1280, 720), "9:16": (720, 1280)}, "720p", rate, sound),
            max_references=self.max_references if self.references_field else int(bool(self.image_field)),
            first_frame=self.image_field is not None,
            requires_first_frame=self.image_required, native_audio=self.audio_field is not None,
            price_per_second=self.price_per_second, retires=self.retires, key_env=[key_env], concurrency=2,
            reference_limit=limit)

    def input_for(self, request: ClipRequest, first_frame: Path | None, limit: ImageLimit | None) -> dict[str, Any]:
        """The model's input document for ``request`` (images inline as data URIs)."""
        doc: dict[str, Any] = {**self.inputs, self.prompt_field: request.prompt}
        if self.duration_field:
            n = request.seconds
            doc[self.duration_field] = {"int": round(n), "string": f"{n:g}", "seconds": f"{n:g}s"}[
                self.duration_format]
        if self.aspect_field:
            doc[self.aspect_field] = request.aspect
        if self.resolution_field and request.resolution:
            doc[self.resolution_field] = request.resolution
        if self.negative_prompt_field and request.negative_prompt:
            doc[self.negative_prompt_field] = request.negative_prompt
        if self.seed_field and request.seed is not None:
            doc[self.seed_field] = request.seed
        if self.audio_field:
            doc[self.audio_field] = request.audio
        if first_frame is not None and self.image_field:
            doc[self.image_field] = data_uri(first_frame, (request.width, request.height), limit)
        elif self.references_field and request.references:
            doc[self.references_field] = [data_uri(p, None, limit) for p in request.references[:self.max_references]]
        elif self.image_required:
            raise InputError(f"{self.id} starts only from an image: give the shot a character with a reference, "
                             "or pick a text-to-video model.", shot=request.shot, field="generator")
        return doc

    def video_url(self, output: Any) -> str | None:
        """The video URL found at :attr:`output` (a list takes its first item)."""
        node = output
        for part in [p for p in self.output.split(".") if p]:
            node = node[0] if isinstance(node, list) and node else node
            node = node.get(part) if isinstance(node, dict) else None
        node = node[0] if isinstance(node, list) and node else node
        return node if isinstance(node, str) else None


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fal: list[GatewayModel] = Field(default_factory=list)
    replicate: list[GatewayModel] = Field(default_factory=list)


def user_table_path() -> Path:
    env = os.environ.get("MVPIPE_MODELS")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "mvpipe" / "models.yaml"


def user_models(gateway: str) -> list[GatewayModel]:
    """The user's extra models for ``gateway``; a bad file is an :class:`InputError` naming the entry."""
    path = user_table_path()
    if not path.is_file():
        if os.environ.get("MVPIPE_MODELS"):
            raise InputError("model table not found.", file=path, field="MVPIPE_MODELS")
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return getattr(_Table.model_validate(raw), gateway)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=path) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InputError(f"bad model table: {problems}.", file=path,
                         hint="Each entry needs 'id' and 'price_per_second'; see docs/providers.md.") from None


def merged(builtin: list[GatewayModel], gateway: str) -> list[GatewayModel]:
    """Built-in entries, with the user's added after them (a user entry with the same id replaces it)."""
    extra = user_models(gateway)
    ids = {m.id for m in extra}
    return [m for m in builtin if m.id not in ids] + extra


class GatewayProvider(RemoteProvider):
    """A gateway whose models come from its built-in table plus the user's; subclasses speak the protocol.

    Job ids are ``model#id``: polling needs the model's entry to find the video in its output.
    """

    builtin: ClassVar[list[GatewayModel]] = []
    image_limit: ClassVar[ImageLimit | None] = None  # what the gateway takes inline, for every model

    _table: list[GatewayModel] | None = None

    def table(self) -> list[GatewayModel]:
        """Built-in and user entries, read once per provider object: once a run, not once a poll."""
        if self._table is None:
            self._table = merged(self.builtin, self.name)
        return self._table

    def models(self) -> list[Capabilities]:
        return [m.capabilities(self.name, self.key_env, self.image_limit) for m in self.table()]

    def entry(self, model: str) -> GatewayModel:
        for m in self.table():
            if m.id == model:
                return m
        raise InputError(f"{self.name} has no model '{model}' in its table.", field="generator")

    @staticmethod
    def split(job_id: str) -> tuple[str, str]:
        model, _, ident = job_id.rpartition("#")
        return model, ident
