"""The two SOAP versions the service speaks."""

from __future__ import annotations

import enum

from udb import ns


class SoapVersion(enum.Enum):
    SOAP12 = "1.2"
    SOAP11 = "1.1"

    @property
    def envelope_ns(self) -> str:
        return ns.SOAP12_ENV if self is SoapVersion.SOAP12 else ns.SOAP11_ENV

    @property
    def content_type(self) -> str:
        if self is SoapVersion.SOAP12:
            return "application/soap+xml; charset=utf-8"
        return "text/xml; charset=utf-8"

    @classmethod
    def for_media_type(cls, media_type: str) -> SoapVersion | None:
        """The version a request's media type (``Content-Type`` without parameters) asks for."""
        if media_type == "application/soap+xml":
            return cls.SOAP12
        if media_type == "text/xml":
            return cls.SOAP11
        return None

    @classmethod
    def for_envelope_ns(cls, namespace: str | None) -> SoapVersion | None:
        for version in cls:
            if version.envelope_ns == namespace:
                return version
        return None
