"""WS-Security 1.0 for the service: X.509 token, Timestamp and XML signature.

A request is trusted only through :func:`verify`, which takes the parts of
the envelope the SOAP layer found (:class:`EnvelopeParts`) and returns a
frozen :class:`VerifiedMessage` (the signed Body and its payload, the
certificate and its fingerprint, the Timestamp, the replay key and how long
to keep it), or an :class:`UnsignedMessage` when the envelope has no
WS-Security header; code after it reads the request only from that result.
:func:`sign` builds signed envelopes as the live platform's clients do.

Exceptions: :class:`SecurityError` (``reason``: why verification refused the
message) from :func:`verify`; :class:`ValueError` from :func:`sign` and
:func:`load_trust_anchors` for unusable input.
"""

from udb.wssecurity.policy import SecurityError, SecurityPolicy, load_trust_anchors
from udb.wssecurity.sign import sign
from udb.wssecurity.verify import EnvelopeParts, UnsignedMessage, VerifiedMessage, verify

__all__ = [
    "EnvelopeParts",
    "SecurityError",
    "SecurityPolicy",
    "UnsignedMessage",
    "VerifiedMessage",
    "load_trust_anchors",
    "sign",
    "verify",
]
