"""Lyrics and captions: the user's words read (files or storyboard), timed to output frames, and set.

``source`` reads lyrics files, ``timing`` places every line on output frames (called by the
planner), ``fonts`` checks the font covers every character, ``layout`` writes the ASS that libass
burns into each piece and the .srt/.vtt sidecars.
"""

from mvpipe.captions.fonts import check_font
from mvpipe.captions.models import CaptionLine, CaptionTrack, CaptionWord, FileLine
from mvpipe.captions.source import read_file
from mvpipe.storyboard import Storyboard


def read_lyrics(board: Storyboard) -> Storyboard:
    """Read ``lyrics.file`` and check the font draws every line, at load rather than after analysis;
    raises a located InputError. The file's lines stay on ``board`` for the (pure) planner to time."""
    lines = read_file(board.lyrics.file) if board.lyrics is not None and board.lyrics.file is not None else []
    check_font(board, lines)
    board._lyric_file = lines
    return board


__all__ = ["CaptionLine", "CaptionTrack", "CaptionWord", "FileLine", "read_lyrics"]
