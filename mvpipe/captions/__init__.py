"""Lyrics and captions: the user's words read (files or storyboard), timed to output frames, and set.

``source`` reads lyrics files, ``timing`` places every line on output frames (called by the
planner), ``fonts`` checks the font covers every character, ``layout`` writes the ASS that libass
burns into each piece and the .srt/.vtt sidecars.
"""

from mvpipe.captions.fonts import check_font
from mvpipe.captions.models import CaptionLine, CaptionTrack, CaptionWord, FileLine
from mvpipe.captions.source import read_file
from mvpipe.storyboard import Storyboard


def check_lyrics(board: Storyboard) -> list[FileLine]:
    """Read ``lyrics.file`` and check the font draws every line; raises a located InputError."""
    lines = read_file(board.lyrics.file) if board.lyrics is not None and board.lyrics.file is not None else []
    check_font(board, lines)
    return lines


__all__ = ["CaptionLine", "CaptionTrack", "CaptionWord", "FileLine", "check_lyrics"]
