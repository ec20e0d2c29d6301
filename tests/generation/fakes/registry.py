"""Which test server speaks for which generator, and the environment that points mvpipe at it."""

from __future__ import annotations

from fakes.comfyui import ComfyServer
from fakes.gateways import FAL_MODEL, REP_MODEL, FalQueue, Predictions
from fakes.kling import ACCESS, SECRET, KlingApi
from fakes.luma import LumaGenerations
from fakes.seedance import ArkTasks
from fakes.server import GeminiVeo, OpenAIVideos, RunwayTasks

KEY = "sk-every-provider-MUST-NOT-LEAK-77"
_KLING = {"KLING_BASE_URL": "{url}", "KLING_ACCESS_KEY": ACCESS, "KLING_SECRET_KEY": SECRET}
_ARK = {"ARK_BASE_URL": "{url}/api/v3", "ARK_API_KEY": KEY}
_OPENAI = {"OPENAI_BASE_URL": "{url}/v1", "OPENAI_API_KEY": KEY}
_RUNWAY = {"RUNWAYML_BASE_URL": "{url}", "RUNWAYML_API_SECRET": KEY}
_VEO = {"GOOGLE_GEMINI_BASE_URL": "{url}", "GEMINI_API_KEY": KEY}

# spec -> (protocol factory, {env var: value or a template with {url}})
SERVERS = {
    "kling:kling-v2-6": (KlingApi, _KLING),
    "kling:kling-v3": (KlingApi, _KLING),
    "seedance:dreamina-seedance-2-0-260128": (ArkTasks, _ARK),
    "seedance:seedance-1-0-pro-250528": (ArkTasks, _ARK),
    "luma:ray-2": (lambda: LumaGenerations(agents=False), {"LUMAAI_BASE_URL": "{url}/dream-machine/v1",
                                                           "LUMAAI_API_KEY": KEY}),
    "luma-agents:ray-3.2": (lambda: LumaGenerations(agents=True), {"LUMA_AGENTS_BASE_URL": "{url}/v1",
                                                                   "LUMA_AGENTS_API_KEY": KEY}),
    f"fal:{FAL_MODEL}": (FalQueue, {"FAL_QUEUE_URL": "{url}", "FAL_KEY": KEY}),
    f"replicate:{REP_MODEL}": (Predictions, {"REPLICATE_BASE_URL": "{url}", "REPLICATE_API_TOKEN": KEY}),
    "openai:sora-2": (OpenAIVideos, _OPENAI),
    "openai:sora-2-pro": (OpenAIVideos, _OPENAI),
    "runway:gen4_turbo": (RunwayTasks, _RUNWAY),
    "runway:gen4.5": (RunwayTasks, _RUNWAY),
    "veo:veo-3.1-generate-preview": (GeminiVeo, _VEO),
    "veo:veo-3.1-fast-generate-preview": (GeminiVeo, _VEO),
    "comfyui": (ComfyServer, {"COMFYUI_URL": "{url}"}),
}
