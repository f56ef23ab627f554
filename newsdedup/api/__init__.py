"""The HTTP API for downstream systems (docs/http-api.md)."""

from newsdedup.api.app import create_app

__all__ = ["create_app"]
