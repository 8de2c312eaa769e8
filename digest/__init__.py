"""digest: a personal research-paper newsletter."""

from __future__ import annotations

from .config import Config, load_config
from .errors import DigestError

__version__ = "0.1.0"

__all__ = ["Config", "DigestError", "__version__", "load_config"]
