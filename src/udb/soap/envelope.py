"""Reading a request envelope.

A request is::

    <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
      <s:Header>...</s:Header>          (optional)
      <s:Body>
        <v1:IndberetningKontaktJobOgUddOenskerRequest>...</...>   (exactly one element)
      </s:Body>
    </s:Envelope>

The envelope namespace must match the version the ``Content-Type`` asked for
(``application/soap+xml``: 1.2, ``text/xml``: 1.1). Header blocks marked
``mustUnderstand`` that the service does not process are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from udb import ns, safexml
from udb.contract import validate
from udb.contract.violations import Violation, at, syntax_violation
from udb.soap.faults import InvalidRequest
from udb.soap.version import SoapVersion

#: Header blocks the service processes: the WS-Security header.
SECURITY = ns.qname(ns.WSSE, "Security")
UNDERSTOOD_HEADERS: frozenset[str] = frozenset({SECURITY})


@dataclass(frozen=True, slots=True)
class Envelope:
    version: SoapVersion
    header: etree._Element | None
    payload: etree._Element
    #: the raw request, to locate problems found after validation
    source: bytes = b""
    #: the Envelope element (what WS-Security verification reads)
    root: etree._Element | None = None

    @property
    def signed(self) -> bool:
        """True if the request carries a WS-Security header."""
        return self.header is not None and self.header.find(SECURITY) is not None


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


def read(
    data: bytes,
    version: SoapVersion,
    *,
    authenticate: Callable[[etree._Element], object] | None = None,
) -> Envelope:
    """Parse and check the envelope and validate its payload against the contract.

    Raises :class:`~udb.soap.faults.InvalidRequest` (IPL000002) for anything
    that is not a well-formed, schema-valid request of ``version``.

    ``authenticate`` is called with the Envelope element of a request that
    carries a WS-Security header, before the envelope's structure is checked:
    a signed message with a second Body or a Body moved into the header is a
    signature-wrapping attempt, and the verifier refuses it as such (IPL000003).
    """
    try:
        root = safexml.parse(data)
    except safexml.XmlSyntaxError as exc:
        raise InvalidRequest([syntax_violation(exc)]) from None
    except safexml.UnsafeXml as exc:
        raise InvalidRequest([Violation(exc.line, exc.column, exc.reason)]) from None

    def refuse(element: etree._Element, reason: str) -> InvalidRequest:
        return InvalidRequest([at(element, data, reason)])

    qname = etree.QName(root)
    other = SoapVersion.for_envelope_ns(qname.namespace)
    if qname.localname != "Envelope" or other is None:
        raise refuse(root, "the document is not a SOAP envelope")
    if other is not version:
        raise refuse(
            root,
            f"a SOAP {other.value} envelope was sent with the SOAP {version.value} "
            f"content type {version.content_type.split(';')[0]}",
        )
    env = version.envelope_ns
    if authenticate is not None and root.find(f"{ns.qname(env, 'Header')}/{SECURITY}") is not None:
        authenticate(root)
    children = _elements(root, data)
    header: etree._Element | None = None
    if children and children[0].tag == ns.qname(env, "Header"):
        header = children.pop(0)
    if len(children) != 1 or children[0].tag != ns.qname(env, "Body"):
        raise refuse(root, "the envelope must hold an optional Header and then one Body")
    body = children[0]
    payload = _elements(body, data)
    if len(payload) != 1:
        raise refuse(body, "the Body must hold exactly one element")
    if header is not None:
        for block in _elements(header, data):
            if _must_understand(block, version) and block.tag not in UNDERSTOOD_HEADERS:
                raise refuse(
                    block,
                    f"header block {etree.QName(block).localname} is marked mustUnderstand "
                    "but is not supported by this service",
                )
    violations = validate(payload[0], data)
    if violations:
        raise InvalidRequest(violations)
    return Envelope(version, header, payload[0], data, root)
