"""The HTTP API for downstream systems (INTERFACE.md section 4)."""
from newsdedup.api.app import create_app

__all__ = ["create_app"]
