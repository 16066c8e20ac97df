"""Reading a request envelope, in two steps around WS-Security verification.

A request is::

    <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
      <s:Header>...</s:Header>          (optional)
      <s:Body>
        <v1:IndberetningKontaktJobOgUddOenskerRequest>...</...>   (exactly one element)
      </s:Body>
    </s:Envelope>

:func:`parse` reads the bytes with the hardened parser (:mod:`udb.safexml`),
checks that the root is an Envelope of the version the ``Content-Type``
asked for (``application/soap+xml``: 1.2, ``text/xml``: 1.1) and finds its
Header and Body children and the WS-Security header, once. It refuses
nothing else: a signed envelope with a second Body, or with its Body moved
into the Header, is a signature-wrapping attempt that
:func:`udb.wssecurity.verify` refuses as such (IPL000003).

:func:`checked_payload` then checks the structure of the envelope around
the Body that verification returned and validates that Body's one element
against the contract. Header blocks marked ``mustUnderstand`` that the
service does not process are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from udb import ns, safexml
from udb.contract import REPORT, ServiceContract, validate
from udb.contract.violations import Violation, at, syntax_violation
from udb.soap.faults import InvalidRequest
from udb.soap.version import SoapVersion
from udb.wssecurity import SecurityError, UnsignedMessage, VerifiedMessage

#: Header blocks the service processes: the WS-Security header.
SECURITY = ns.qname(ns.WSSE, "Security")
UNDERSTOOD_HEADERS: frozenset[str] = frozenset({SECURITY})


@dataclass(frozen=True, slots=True)
class ParsedEnvelope:
    """A well-formed Envelope of the requested SOAP version, its parts found once.

    Satisfies :class:`udb.wssecurity.EnvelopeParts`. Nothing in it is checked
    beyond the Envelope element itself.
    """

    version: SoapVersion
    #: the raw request, to locate problems found later
    source: bytes
    #: the Envelope element, the root of the document
    envelope: etree._Element
    #: the Envelope's Header and Body children, in document order
    headers: tuple[etree._Element, ...]
    bodies: tuple[etree._Element, ...]
    #: the wsse:Security children of those Headers
    security_headers: tuple[etree._Element, ...]

    @property
    def signed(self) -> bool:
        """True if the request carries a WS-Security header."""
        return bool(self.security_headers)


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    """An envelope of the right shape whose payload is valid against the contract."""

    version: SoapVersion
    header: etree._Element | None
    #: the one element of the (verified) Body
    payload: etree._Element
    #: the raw request, to locate problems found after validation
    source: bytes = b""


def parse(data: bytes, version: SoapVersion) -> ParsedEnvelope:
    """The envelope in ``data``, a SOAP ``version`` Envelope (IPL000002 otherwise).

    Raises :class:`~udb.soap.faults.InvalidRequest` when ``data`` is not
    well-formed XML the hardened parser accepts, or its root is not an
    Envelope of ``version``.
    """
    try:
        root = safexml.parse(data)
    except safexml.XmlSyntaxError as exc:
        raise InvalidRequest([syntax_violation(exc)]) from None
    except safexml.UnsafeXml as exc:
        raise InvalidRequest([Violation(exc.line, exc.column, exc.reason)]) from None
    qname = etree.QName(root)
    other = SoapVersion.for_envelope_ns(qname.namespace)
    if qname.localname != "Envelope" or other is None:
        raise InvalidRequest([at(root, data, "the document is not a SOAP envelope")])
    if other is not version:
        reason = (
            f"a SOAP {other.value} envelope was sent with the SOAP {version.value} "
            f"content type {version.content_type.split(';')[0]}"
        )
        raise InvalidRequest([at(root, data, reason)])
    env = version.envelope_ns
    headers = tuple(child for child in root if child.tag == ns.qname(env, "Header"))
    return ParsedEnvelope(
        version=version,
        source=data,
        envelope=root,
        headers=headers,
        bodies=tuple(child for child in root if child.tag == ns.qname(env, "Body")),
        security_headers=tuple(
            block for header in headers for block in header if block.tag == SECURITY
        ),
    )


def _elements(parent: etree._Element, source: bytes) -> list[etree._Element]:
    """The element children of an envelope part; text beside them is refused."""
    name = etree.QName(parent).localname
    children = []
    for child in parent:
        if isinstance(child.tag, str):
            children.append(child)
        elif not isinstance(child, etree._Comment | etree._ProcessingInstruction):
            raise InvalidRequest([at(parent, source, f"unexpected content in {name}")])
        if child.tail and child.tail.strip():
            raise InvalidRequest([at(parent, source, f"text is not allowed in {name}")])
    if parent.text and parent.text.strip():
        raise InvalidRequest([at(parent, source, f"text is not allowed in {name}")])
    return children


def _must_understand(block: etree._Element, version: SoapVersion) -> bool:
    value = block.get(ns.qname(version.envelope_ns, "mustUnderstand"), "")
    return value.strip() in ("1", "true")  # xs:boolean, whitespace collapsed


def checked_payload(
    parsed: ParsedEnvelope,
    message: VerifiedMessage | UnsignedMessage,
    service: ServiceContract = REPORT,
) -> CheckedRequest:
    """The structure of the envelope around ``message``'s Body, and its payload validated.

    ``message`` is what :func:`udb.wssecurity.verify` returned for ``parsed``:
    only its Body is read. Raises :class:`~udb.soap.faults.InvalidRequest`
    (IPL000002) unless the envelope holds an optional Header and then that one
    Body, the Body exactly one element, no header block is marked
    ``mustUnderstand`` that the service does not process, and the element is
    valid against ``service``'s schema (each violation with its line and column).
    """
    data = parsed.source

    def refuse(element: etree._Element, reason: str) -> InvalidRequest:
        return InvalidRequest([at(element, data, reason)])

    env = parsed.version.envelope_ns
    root = parsed.envelope
    children = _elements(root, data)
    header: etree._Element | None = None
    if children and children[0].tag == ns.qname(env, "Header"):
        header = children.pop(0)
    if len(children) != 1 or children[0].tag != ns.qname(env, "Body"):
        raise refuse(root, "the envelope must hold an optional Header and then one Body")
    body = children[0]
    if body is not message.body:  # pragma: no cover - verify() answers for the one Body
        raise SecurityError("the signed Body is not the Body of the envelope")
    payload = _elements(body, data)
    if len(payload) != 1:
        raise refuse(body, "the Body must hold exactly one element")
    if header is not None:
        for block in _elements(header, data):
            if _must_understand(block, parsed.version) and block.tag not in UNDERSTOOD_HEADERS:
                raise refuse(
                    block,
                    f"header block {etree.QName(block).localname} is marked mustUnderstand "
                    "but is not supported by this service",
                )
    violations = validate(payload[0], data, service)
    if violations:
        raise InvalidRequest(violations)
    return CheckedRequest(parsed.version, header, payload[0], data)


def read(data: bytes, version: SoapVersion) -> CheckedRequest:
    """:func:`parse` and :func:`checked_payload` without verifying any signature.

    For tools and tests that read a request as the schema sees it; the
    service verifies the WS-Security header between the two steps.
    """
    parsed = parse(data, version)
    body = parsed.bodies[0] if len(parsed.bodies) == 1 else None
    return checked_payload(parsed, UnsignedMessage(body))
