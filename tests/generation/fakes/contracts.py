"""What each provider's API accepts and what it bills, written from its published contract, for the test servers.

Every rule carries its source and the date it was checked. A check returns a :class:`Refusal` (the HTTP status,
message and error code the real API answers) or None; a bill is the USD the provider charges for a job it ran.
The servers refuse what these refuse, so an adapter sending a shape its provider does not take fails its test.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "contracts"


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    code: str


def _refuse(status: int, message: str, code: str) -> Refusal:
    return Refusal(status, message, code)


# -- OpenAI Videos API -------------------------------------------------------------------------------------------
# openai-openapi.yaml (../shared/contracts, checked 2026-12-02): `VideoModel`, `VideoSeconds`, `VideoSize` enums.
# tests/generation/fakes/test_contracts.py checks these three sets against the spec file itself.
OPENAI_MODELS = {"sora-2", "sora-2-pro"}
OPENAI_SECONDS = {"4", "8", "12"}
OPENAI_SIZES = {"720x1280", "1280x720", "1024x1792", "1792x1024"}
OPENAI_PRO_ONLY = {"1024x1792", "1792x1024"}  # video-generation guide: these sizes are sora-2-pro's (2026-12-02)
# Prices: OpenAI pricing page copy (checked 2026-12-02), USD per second.
OPENAI_PRICE = {("sora-2", "720"): 0.10, ("sora-2-pro", "720"): 0.30, ("sora-2-pro", "1024"): 0.50}


def openai_create(body: dict[str, Any]) -> Refusal | None:
    for field, allowed in (("model", OPENAI_MODELS), ("seconds", OPENAI_SECONDS), ("size", OPENAI_SIZES)):
        if field in body and body[field] not in allowed:
            return _refuse(400, f"Invalid value: '{body[field]}'. Supported values are: "
                           f"{', '.join(sorted(allowed))}.", "invalid_value")
    if body.get("size") in OPENAI_PRO_ONLY and body.get("model", "sora-2") != "sora-2-pro":
        return _refuse(400, f"size {body['size']} is available for sora-2-pro only.", "invalid_value")
    return None


def openai_bill(body: dict[str, Any]) -> float:
    short = str(min(int(n) for n in body.get("size", "720x1280").split("x")))
    return OPENAI_PRICE[(body.get("model", "sora-2"), short)] * float(body.get("seconds", "4"))


# -- Runway ------------------------------------------------------------------------------------------------------
# runwayml/sdk-python types (checked 2026-12-02): image_to_video_create_params.py (Gen4Turbo, Gen4_5 ratio
# literals, promptImage required), text_to_video_create_params.py (Gen4_5 only 1280:720 / 720:1280; no
# gen4_turbo text-to-video), text_to_image_create_params.py (Gen4Image ratio literals, up to 3 references).
# Skills rw-api-reference (2026-12-02): duration integer 2-10; promptText <= 1000; data URIs <= 5 MB;
# 5 / 12 credits a second, gen4_image 5 credits at 720p, $0.01 a credit; SAFETY.INPUT failures not refundable.
RUNWAY_I2V = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
RUNWAY_RATIOS = {("image_to_video", "gen4_turbo"): RUNWAY_I2V, ("image_to_video", "gen4.5"): RUNWAY_I2V,
                 ("text_to_video", "gen4.5"): {"1280:720", "720:1280"}}
RUNWAY_IMAGE_RATIOS = {"1024:1024", "1080:1080", "1168:880", "1360:768", "1440:1080", "1080:1440", "1808:768",
                       "1920:1080", "1080:1920", "2112:912", "1280:720", "720:1280", "720:720", "960:720",
                       "720:960", "1680:720"}
RUNWAY_CREDITS = {"gen4_turbo": 5, "gen4.5": 12}


def runway_create(endpoint: str, body: dict[str, Any]) -> Refusal | None:
    if endpoint == "text_to_image":
        if body.get("ratio") not in RUNWAY_IMAGE_RATIOS:
            return _refuse(400, f"ratio: Invalid enum value '{body.get('ratio')}'", "validation")
        if len(body.get("referenceImages") or []) > 3:
            return _refuse(400, "referenceImages: at most 3", "validation")
        return _inline_too_big([r["uri"] for r in body.get("referenceImages") or []], 5_000_000)
    allowed = RUNWAY_RATIOS.get((endpoint, body.get("model")))
    if allowed is None:
        return _refuse(400, f"model: '{body.get('model')}' is not available for {endpoint}", "validation")
    if body.get("ratio") not in allowed:
        return _refuse(400, f"ratio: Invalid enum value. Expected {' | '.join(sorted(allowed))}, "
                       f"received '{body.get('ratio')}'", "validation")
    if not isinstance(body.get("duration"), int) or not 2 <= body["duration"] <= 10:
        return _refuse(400, "duration: Expected an integer from 2 to 10", "validation")
    if len(body.get("promptText", "")) > 1000:
        return _refuse(400, "promptText: at most 1000 characters", "validation")
    if endpoint == "image_to_video" and "promptImage" not in body:
        return _refuse(400, "promptImage: Required", "validation")
    return _inline_too_big([body["promptImage"]] if "promptImage" in body else [], 5_000_000)


def runway_bill(endpoint: str, body: dict[str, Any]) -> float:
    if endpoint == "text_to_image":
        return 5 * 0.01
    return RUNWAY_CREDITS[body["model"]] * body["duration"] * 0.01


# -- Google Veo (Gemini API) -------------------------------------------------------------------------------------
# ai.google.dev/gemini-api/docs/video (updated 2026-03-05, checked 2026-12-02): aspectRatio "16:9" | "9:16";
# resolution "720p" | "1080p" | "4k"; durationSeconds 4, 6, 8 and 8 only with reference images or at 1080p/4k;
# up to 3 reference images; `image` and `referenceImages` not together. Prices (ai.google.dev pricing 2026-09-24,
# through dated third-party copies): Veo 3.1 $0.40/s (720p, 1080p); 3.1 Fast $0.10/s 720p, $0.12/s 1080p.
VEO_PRICE = {("veo-3.1-generate-preview", "720p"): 0.40, ("veo-3.1-generate-preview", "1080p"): 0.40,
             ("veo-3.1-fast-generate-preview", "720p"): 0.10, ("veo-3.1-fast-generate-preview", "1080p"): 0.12}


def veo_create(body: dict[str, Any]) -> Refusal | None:
    params, instance = body.get("parameters") or {}, (body.get("instances") or [{}])[0]
    if params.get("aspectRatio", "16:9") not in ("16:9", "9:16"):
        return _refuse(400, f"Unsupported aspect ratio: {params.get('aspectRatio')}", "INVALID_ARGUMENT")
    resolution = params.get("resolution", "720p")
    if resolution not in ("720p", "1080p", "4k"):
        return _refuse(400, f"Unsupported resolution: {resolution}", "INVALID_ARGUMENT")
    seconds = int(params.get("durationSeconds", 8))
    if seconds not in (4, 6, 8) or (seconds != 8 and (resolution != "720p" or instance.get("referenceImages"))):
        return _refuse(400, f"durationSeconds {seconds} is not supported here (8 with references or above 720p)",
                       "INVALID_ARGUMENT")
    if len(instance.get("referenceImages") or []) > 3 or ("image" in instance and "referenceImages" in instance):
        return _refuse(400, "at most 3 reference images, and not together with an image", "INVALID_ARGUMENT")
    return None


def veo_bill(model: str, body: dict[str, Any]) -> float:
    params = body["parameters"]
    return VEO_PRICE[(model, params.get("resolution", "720p"))] * int(params["durationSeconds"])


# -- Kling -------------------------------------------------------------------------------------------------------
# kling.ai/document-api (Text to Video, Image to Video, Reference to Video; checked 2026-12-02):
# aspect_ratio 16:9 | 9:16 | 1:1 (text2video, multi-image2video; image2video follows its image); mode std | pro;
# duration "5" | "10" ("3".."15" on kling-v3); sound on | off on v2.6 / v3 (v2.6 std is silent: gateway docs);
# images raw base64 without a data: prefix, <= 10 MB; image_list <= 4, kling-v1-6 only.
# Errors: HTTP 400 with {code: 1201, message}. Prices: kling.ai/dev/pricing (2026-09-28):
# units a second std 0.6 / 0.9 with sound, pro 0.8 / 1.2; 1 unit = $0.14.
KLING_MODELS = {"kling-v1-6", "kling-v2-5-turbo", "kling-v2-6", "kling-v3"}
KLING_UNITS = {("std", "off"): 0.6, ("std", "on"): 0.9, ("pro", "off"): 0.8, ("pro", "on"): 1.2}


def kling_create(endpoint: str, body: dict[str, Any]) -> Refusal | None:
    model = body.get("model_name")
    durations = {str(n) for n in range(3, 16)} if model == "kling-v3" else {"5", "10"}
    problems = [model not in KLING_MODELS and "model_name",
                body.get("mode", "std") not in ("std", "pro") and "mode",
                body.get("duration", "5") not in durations and "duration",
                endpoint != "image2video" and body.get("aspect_ratio", "16:9") not in ("16:9", "9:16", "1:1")
                and "aspect_ratio",
                body.get("sound", "off") not in ("on", "off") and "sound",
                body.get("sound") == "on" and model not in ("kling-v2-6", "kling-v3") and "sound",
                body.get("sound") == "on" and model == "kling-v2-6" and body.get("mode", "std") == "std" and "sound",
                endpoint == "multi-image2video" and (model != "kling-v1-6" or len(body.get("image_list", [])) > 4)
                and "image_list"]
    images = [body["image"]] if "image" in body else [i["image"] for i in body.get("image_list", [])]
    for image in images:
        if image.startswith("data:") or not _base64_bytes(image) or len(_base64_bytes(image)) > 10_000_000:
            problems.append("image")
    bad = [p for p in problems if p]
    if bad:
        return _refuse(400, f"Invalid value of parameter: {bad[0]}", "1201")
    return None


def kling_bill(body: dict[str, Any]) -> float:
    return KLING_UNITS[(body.get("mode", "std"), body.get("sound", "off"))] * 0.14 * int(body.get("duration", "5"))


# -- Seedance on BytePlus ModelArk -------------------------------------------------------------------------------
# BytePlus create-task page (checked 2026-12-02): ratio 16:9 | 4:3 | 1:1 | 3:4 | 9:16 |
# 21:9 | adaptive; resolution 480p | 720p | 1080p, Seedance 2.0 without 1080p; duration 2.0 4-15, 1.0 pro 2-12;
# first_frame and reference_image roles not mixed; <= 9 reference images. Errors {"error": {code, message}}.
# Billing: tokens = width x height x 24 x seconds / 1024 with the pixel table per ratio (Volcengine price table
# for 1.x; the Seedance 2.0 table); 2.0 $7.0 / M tokens (BytePlus pricing 2026-09-28), 1.0 pro $2.5 / M (3p).
SEEDANCE_PIXELS = {
    ("2.0", "720p"): {"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112),
                      "9:16": (720, 1280), "21:9": (1470, 630)},
    ("1.0", "720p"): {"16:9": (1248, 704), "4:3": (1120, 832), "1:1": (960, 960), "3:4": (832, 1120),
                      "9:16": (704, 1248), "21:9": (1504, 640)},
    ("1.0", "1080p"): {"16:9": (1920, 1088), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664),
                       "9:16": (1088, 1920), "21:9": (2176, 928)},
}
SEEDANCE_USD_PER_M = {"2.0": 7.0, "1.0": 2.5}


def _seedance_family(model: str) -> str:
    return "2.0" if "seedance-2-0" in model else "1.0"


def seedance_create(body: dict[str, Any]) -> Refusal | None:
    family = _seedance_family(body.get("model", ""))
    lo, hi = (4, 15) if family == "2.0" else (2, 12)
    roles = [c.get("role") for c in body.get("content", []) if c.get("type") == "image_url"]
    if body.get("ratio", "adaptive") not in ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"):
        return _refuse(400, f"The parameter `ratio` specified in the request is not valid: {body.get('ratio')}",
                       "InvalidParameter")
    if body.get("resolution", "720p") not in ("480p", "720p", "1080p") or (
            family == "2.0" and body.get("resolution") == "1080p"):
        return _refuse(400, f"The parameter `resolution` specified in the request is not valid: "
                       f"{body.get('resolution')}", "InvalidParameter")
    if not isinstance(body.get("duration"), int) or not lo <= body["duration"] <= hi:
        return _refuse(400, f"The parameter `duration` is not valid: {body.get('duration')}", "InvalidParameter")
    if ("reference_image" in roles and "first_frame" in roles) or roles.count("reference_image") > 9:
        return _refuse(400, "reference images cannot be mixed with frames, and at most 9", "InvalidParameter")
    return None


def seedance_bill(body: dict[str, Any]) -> float:
    family = _seedance_family(body["model"])
    ratio = body.get("ratio", "16:9")
    w, h = SEEDANCE_PIXELS[(family, body.get("resolution", "720p"))][ratio if ratio != "adaptive" else "16:9"]
    return w * h * 24 * body["duration"] / 1024 * SEEDANCE_USD_PER_M[family] / 1e6


# -- Luma --------------------------------------------------------------------------------------------------------
# Dream Machine: Luma's OpenAPI (lumalabs/lumaai-api openapi.yaml @2520034, 2025-06-24, checked 2026-12-02;
# a copy for the schema check lies in ../shared/contracts/luma-openapi.yaml): POST /generations/video,
# GenerationRequest: model ray-1-6 | ray-2 | ray-flash-2 (required), AspectRatio enum, resolution 540p | 720p |
# 1080p | 4k, duration "5s" | "9s". Agents API (luma-agents-python, 2026-06-09): video.duration "5s" | "10s",
# resolution 540p | 720p | 1080p, ray-3.2 aspects 9:16, 3:4, 1:1, 4:3, 16:9, 21:9; "10s clips support
# text-to-video only" (Luma's ray-3.2 readme). Prices per generation (Comfy-Org/docs PR #514, 3p): ray-2 720p
# $0.71 / 5 s, $1.27 / 9 s; 1080p $1.59 / $2.87. ray-3.2 (fal resale): per 5 s $1.08 at 720p, $2.16 at 1080p.
LUMA_ASPECTS = {"1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"}
LUMA_PRICE = {("ray-2", "720p", "5s"): 0.71, ("ray-2", "720p", "9s"): 1.27, ("ray-2", "1080p", "5s"): 1.59,
              ("ray-2", "1080p", "9s"): 2.87}
# ray-flash-2: the same page gives only 4k 5 s ($2.19 vs ray-2's $6.37); its other rows are scaled by that ratio.
LUMA_PRICE.update({("ray-flash-2", *k[1:]): round(v * 2.19 / 6.37, 4) for k, v in list(LUMA_PRICE.items())})
LUMA_AGENTS_PER_5S = {"540p": 0.72, "720p": 1.08, "1080p": 2.16}


def luma_create(body: dict[str, Any]) -> Refusal | None:
    if body.get("model") not in ("ray-1-6", "ray-2", "ray-flash-2"):
        return _refuse(400, "model: Input should be 'ray-1-6', 'ray-2' or 'ray-flash-2'", "invalid_request")
    for field, allowed in (("aspect_ratio", LUMA_ASPECTS), ("resolution", {"540p", "720p", "1080p", "4k"}),
                           ("duration", {"5s", "9s"})):
        if field in body and body[field] not in allowed:
            return _refuse(400, f"{field}: Input should be one of {sorted(allowed)}", "invalid_request")
    return None


def luma_agents_create(body: dict[str, Any]) -> Refusal | None:
    video = body.get("video") or {}
    if body.get("aspect_ratio") not in LUMA_ASPECTS - {"9:21"}:
        return _refuse(400, f"aspect_ratio {body.get('aspect_ratio')} is not available for ray-3.2",
                       "invalid_request")
    if video.get("duration") not in ("5s", "10s") or video.get("resolution", "720p") not in LUMA_AGENTS_PER_5S:
        return _refuse(400, "video.duration or video.resolution is not valid", "invalid_request")
    if video.get("duration") == "10s" and "start_frame" in video:
        return _refuse(400, "10s clips support text-to-video only", "invalid_request")
    return None


def luma_bill(agents: bool, body: dict[str, Any]) -> float:
    if agents:
        video = body["video"]
        return LUMA_AGENTS_PER_5S[video.get("resolution", "720p")] * int(video["duration"][:-1]) / 5
    return LUMA_PRICE[(body["model"], body.get("resolution", "720p"), body["duration"])]


# -- fal: fal-ai/kling-video/v2.1/master/text-to-video -----------------------------------------------------------
# fal.ai/models/fal-ai/kling-video/v2.1/master/text-to-video/llms.txt (checked 2026-12-02): duration "5" | "10",
# aspect_ratio 16:9 | 9:16 | 1:1; "$1.40 for 5s ... $0.28 each additional second". Errors 422 {"detail": [...]}.
def fal_create(body: dict[str, Any]) -> Refusal | None:
    if body.get("duration", "5") not in ("5", "10"):
        return _refuse(422, "duration: Input should be '5' or '10'", "enum")
    if body.get("aspect_ratio", "16:9") not in ("16:9", "9:16", "1:1"):
        return _refuse(422, "aspect_ratio: Input should be '16:9', '9:16' or '1:1'", "enum")
    return None


def fal_bill(body: dict[str, Any]) -> float:
    return 1.40 + 0.28 * (int(body.get("duration", "5")) - 5)


# -- Replicate: bytedance/seedance-2.0 ---------------------------------------------------------------------------
# replicate.com/bytedance/seedance-2.0 API page (version affbecc3, checked 2026-12-02): aspect_ratio 16:9 | 4:3 |
# 1:1 | 3:4 | 9:16 | 21:9 | 9:21 | adaptive; resolution 480p | 720p; duration -1 or 4..15; reference_images
# (<= 9) "Cannot be used together with first frame". Errors 422 (RFC 7807). Price: Replicate's own was not found;
# $0.14/s stands in (BytePlus's token price at 720p, as the adapter).
def replicate_create(inputs: dict[str, Any]) -> Refusal | None:
    if inputs.get("aspect_ratio", "16:9") not in ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "9:21", "adaptive"):
        return _refuse(422, f"aspect_ratio: {inputs.get('aspect_ratio')} is not one of the allowed values",
                       "Invalid input")
    if inputs.get("resolution", "720p") not in ("480p", "720p"):
        return _refuse(422, f"resolution: {inputs.get('resolution')} is not one of the allowed values",
                       "Invalid input")
    if not (inputs.get("duration") == -1 or 4 <= inputs.get("duration", 0) <= 15):
        return _refuse(422, "duration: must be -1 or between 4 and 15", "Invalid input")
    if "image" in inputs and "reference_images" in inputs or len(inputs.get("reference_images") or []) > 9:
        return _refuse(422, "reference_images: cannot be used together with first frame; at most 9",
                       "Invalid input")
    return None


def replicate_bill(inputs: dict[str, Any]) -> float:
    return 0.14 * inputs["duration"]


# -- shared ------------------------------------------------------------------------------------------------------
def _base64_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _inline_too_big(uris: list[str], limit: int) -> Refusal | None:
    for uri in uris:
        if uri.startswith("data:") and len(uri) > limit:
            return _refuse(400, f"data URI is {len(uri)} bytes; the limit is {limit}", "validation")
    return None


def spec_enum(spec: Path, name: str) -> set[str]:
    """The enum values listed under schema ``name`` of an OpenAPI YAML file (a line scan: the file is large)."""
    values: set[str] = set()
    inside = False
    for line in spec.read_text(encoding="utf-8").splitlines():
        if line == f"    {name}:":
            inside = True
        elif inside and line.startswith("    ") and not line.startswith("     "):
            break
        elif inside and (m := re.fullmatch(r"\s+- \"?([^\"]+)\"?", line)):
            values.add(m[1])
    return values
