"""The provider registry: a generator spec ``provider[:model]`` -> a provider and its capabilities."""

from __future__ import annotations

from mvpipe.generation.provider import Capabilities, Provider
from mvpipe.generation.providers.animatic import AnimaticProvider

PROVIDERS: dict[str, type[Provider]] = {cls.name: cls for cls in (AnimaticProvider,)}


class UnknownGenerator(ValueError):
    """A generator spec that names no registered provider or model; the message says what exists."""


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
