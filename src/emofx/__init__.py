"""emofx: how audio effects change the emotion that music models perceive."""

__version__ = "0.1.0"
