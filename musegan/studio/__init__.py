"""``musegan studio``: a local web page to generate, audition, infill and download music
(see ``server.py``)."""
from .server import Studio, serve

__all__ = ["Studio", "serve"]
