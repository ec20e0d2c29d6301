"""The test servers' contracts refuse what the providers refuse (the requests the audit caught mvpipe sending),
and the rules copied from a spec match the spec file itself."""

from __future__ import annotations

import json

import pytest
from fakes import contracts
from fakes.contracts import SHARED, spec_enum

from mvpipe.generation.providers import PROVIDERS


@pytest.mark.parametrize(("check", "body", "status"), [
    (contracts.openai_create, {"model": "sora-2", "prompt": "x", "seconds": "8", "size": "1920x1080"}, 400),
    (contracts.openai_create, {"model": "sora-2", "prompt": "x", "seconds": "8", "size": "1792x1024"}, 400),
    (lambda b: contracts.runway_create("image_to_video", b),
     {"model": "gen4_turbo", "promptText": "x", "ratio": "1920:1080", "duration": 5, "promptImage": "data:,"}, 400),
    (lambda b: contracts.runway_create("text_to_video", b),
     {"model": "gen4.5", "promptText": "x", "ratio": "960:960", "duration": 5}, 400),
    (contracts.veo_create, {"instances": [{"prompt": "x"}], "parameters": {"aspectRatio": "1:1"}}, 400),
    (contracts.veo_create, {"instances": [{"prompt": "x"}],
                            "parameters": {"aspectRatio": "16:9", "resolution": "1080p", "durationSeconds": 4}}, 400),
    (lambda b: contracts.kling_create("text2video", b),
     {"model_name": "kling-v2-6", "prompt": "x", "duration": "5", "aspect_ratio": "4:5"}, 400),
    (lambda b: contracts.kling_create("text2video", b),
     {"model_name": "kling-v2-6", "prompt": "x", "duration": "5", "mode": "std", "sound": "on"}, 400),
    (contracts.seedance_create, {"model": "dreamina-seedance-2-0-260128", "content": [], "duration": 5,
                                 "ratio": "1:1", "resolution": "960p"}, 400),
    (contracts.luma_create, {"model": "ray-2", "prompt": "x", "aspect_ratio": "4:5"}, 400),
    (contracts.luma_agents_create, {"model": "ray-3.2", "aspect_ratio": "16:9",
                                    "video": {"duration": "10s", "start_frame": {"data": "", "media_type": "x"}}}, 400),
    (contracts.fal_create, {"prompt": "x", "duration": "5", "aspect_ratio": "4:5"}, 422),
    (contracts.replicate_create, {"prompt": "x", "duration": 5, "aspect_ratio": "4:5"}, 422),
])
def test_what_the_audit_caught_is_refused_with_the_documented_status(check, body, status) -> None:
    refusal = check(body)
    assert refusal is not None and refusal.status == status


def test_openai_rules_are_the_specs_enums() -> None:
    spec = SHARED / "openai-openapi.yaml"
    if not spec.is_file():
        pytest.skip(f"OpenAI's spec is not at {spec}")
    assert spec_enum(spec, "VideoSize") == contracts.OPENAI_SIZES
    assert spec_enum(spec, "VideoSeconds") == contracts.OPENAI_SECONDS
    assert contracts.OPENAI_MODELS <= spec_enum(spec, "VideoModel")


def test_every_luma_dream_machine_body_we_send_validates_against_lumas_openapi() -> None:
    spec_path = SHARED / "luma-openapi.yaml"
    if not spec_path.is_file():
        pytest.skip(f"Luma's OpenAPI is not at {spec_path}")
    import yaml
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from mvpipe.generation.provider import ClipRequest

    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    registry = Registry().with_resource("urn:luma", Resource.from_contents(spec, default_specification=DRAFT202012))
    schema = {"$ref": "urn:luma#/components/schemas/GenerationRequest"}
    provider = PROVIDERS["luma"]()
    assert provider.create_path == "generations/video" and "post" in spec["paths"]["/generations/video"]
    for caps in provider.models():
        for shape in caps.shapes:
            for seconds in caps.durations:
                req = ClipRequest(shot="s", shot_number=1, provider="luma", model=caps.model, prompt="x",
                                  seconds=seconds, width=shape.width, height=shape.height, aspect=shape.aspect,
                                  resolution=shape.resolution, fps=24)
                body = json.loads(json.dumps(provider.body(req, None)))
                errors = list(Draft202012Validator(schema, registry=registry).iter_errors(body))
                assert not errors, (body, [e.message for e in errors])
