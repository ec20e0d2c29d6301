"""The provider registry: a generator spec ``provider[:model]`` -> a provider and its capabilities."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Any

from mvpipe.errors import UnknownGenerator
from mvpipe.generation.provider import Capabilities, Provider
from mvpipe.generation.providers.animatic import AnimaticProvider
from mvpipe.generation.providers.comfyui import ComfyUIProvider
from mvpipe.generation.providers.fal import FalProvider
from mvpipe.generation.providers.footage import FootageProvider
from mvpipe.generation.providers.kling import KlingProvider
from mvpipe.generation.providers.luma import LumaAgentsProvider, LumaProvider
from mvpipe.generation.providers.openai import OpenAIVideosProvider
from mvpipe.generation.providers.replicate import ReplicateProvider
from mvpipe.generation.providers.runway import RunwayProvider
from mvpipe.generation.providers.seedance import SeedanceProvider
from mvpipe.generation.providers.veo import VeoProvider
from mvpipe.generation.providers.videogateway import VideoGatewayProvider

PROVIDERS: dict[str, type[Provider]] = {cls.name: cls for cls in (AnimaticProvider,)}
PROVIDERS.update({cls.name: cls for cls in (FootageProvider, KlingProvider, SeedanceProvider, LumaProvider,
                                            LumaAgentsProvider, FalProvider, ReplicateProvider,
                                            ComfyUIProvider)})
PROVIDERS.update({cls.name: cls for cls in (OpenAIVideosProvider, RunwayProvider, VeoProvider)})
PROVIDERS[VideoGatewayProvider.name] = VideoGatewayProvider


def resolve(spec: str) -> tuple[Provider, Capabilities]:
    """The provider and model capabilities for ``spec`` (``provider`` or ``provider:model``)."""
    name, _, model = spec.partition(":")
    if name not in PROVIDERS:
        raise UnknownGenerator(f"unknown provider '{name}'; known: {', '.join(sorted(PROVIDERS))}.")
    provider = PROVIDERS[name]()
    try:
        return provider, provider.capabilities(model or None)
    except KeyError:
        models = ", ".join(c.model for c in provider.models())
        raise UnknownGenerator(f"provider '{name}' has no model '{model}'; its models: {models}.") from None


def catalog(environ: Mapping[str, str] | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Every provider's models as plain rows: limits, prices, whether a key is set, retirement.

    Only whether a key variable is set is reported, never its value.
    """
    env = os.environ if environ is None else environ
    today = today or date.today()
    rows = []
    for name in sorted(PROVIDERS):
        for caps in PROVIDERS[name]().models():
            row = caps.model_dump(mode="json")
            row["name"] = caps.spec
            row["key_configured"] = caps.local or not caps.key_env or all(env.get(k, "").strip()
                                                                          for k in caps.key_env)
            row["retired"] = caps.retires is not None and caps.retires <= today
            rows.append(row)
    return rows
