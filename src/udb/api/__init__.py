"""HTTP entry: the ASGI application that carries the SOAP endpoint."""

from udb.api.app import ENDPOINT_PATH, create_app

__all__ = ["ENDPOINT_PATH", "create_app"]
