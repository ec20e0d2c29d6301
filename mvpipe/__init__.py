"""mvpipe: a song plus a storyboard in, a beat-cut music video out."""

__version__ = "0.1.0"
