"""Assembly: plan + takes + song -> a frame-exact MP4, from cached per-segment pieces.

``assemble`` renders; ``check`` measures a finished video against its render manifest.
"""

from mvpipe.assembly.check import check
from mvpipe.assembly.models import CheckReport, RenderManifest
from mvpipe.assembly.render import assemble
from mvpipe.workspace import manifest_path

__all__ = ["assemble", "check", "manifest_path", "CheckReport", "RenderManifest"]
