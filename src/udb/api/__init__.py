"""HTTP entry: the ASGI application that carries the SOAP endpoint."""

from udb.api.app import create_app
from udb.contract import ENDPOINT_PATH

__all__ = ["ENDPOINT_PATH", "create_app"]
