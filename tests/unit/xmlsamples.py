# ruff: noqa: E501  (the examples are copied verbatim)
"""Request envelopes for the unit tests, built from the wire example.

``REQUEST_XML`` is a copy of ``/work/shared/spec/examples/request.xml`` so the
tests do not depend on the shared folder. :func:`request` rewrites it as text:
one line per element, so the line and column of every start tag stay easy to
compute (:func:`position`)::

    request(replace={"KontaktNavn": "x" * 101}, remove=("KontaktTelefon",))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
IPL_NS = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
UDB_NS = "http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"

SOAP12_CT = "application/soap+xml; charset=utf-8"
SOAP11_CT = "text/xml; charset=utf-8"

CPR = "1503081234"
NAME = "Mette Sørensen"
MAIL = "mette.sorensen@example.dk"
SYSTEM = "Vejledningssystem-Aarhus"
TRANSACTION_ID = "5b0a4a7e-2f6d-4d0e-9a54-2f4c1f0b7a11"
INSTITUTION = 751001

REQUEST_XML = """\
<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
  <s:Header/>
  <s:Body>
    <v1:IndberetningKontaktJobOgUddOenskerRequest
        xmlns:v1="http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
        xmlns:udb="http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1">
      <v1:Identifier>
        <v1:SystemName>Vejledningssystem-Aarhus</v1:SystemName>
        <v1:SystemTransactionID>5b0a4a7e-2f6d-4d0e-9a54-2f4c1f0b7a11</v1:SystemTransactionID>
      </v1:Identifier>
      <v1:Message>
        <udb:IndberetningKontaktJobOgUddOenskerRequest>
          <udb:ModtagerSystemID>Vejledningssystem-Aarhus</udb:ModtagerSystemID>
          <udb:CPRNr>1503081234</udb:CPRNr>
          <udb:KommuneInstitutionNummer>751001</udb:KommuneInstitutionNummer>
          <udb:KommuneKontakt>
            <udb:KontaktNavn>Mette Sørensen</udb:KontaktNavn>
            <udb:KontaktMail>mette.sorensen@example.dk</udb:KontaktMail>
            <udb:KontaktTelefon>4520304050</udb:KontaktTelefon>
            <udb:KontaktRegistreringstid>2026-11-20T09:15:00+01:00</udb:KontaktRegistreringstid>
          </udb:KommuneKontakt>
          <udb:JobOnsker>
            <udb:JobOnsker>Tømrer eller anden byggebranche</udb:JobOnsker>
            <udb:JobRegistreringstid>2026-11-20T09:20:00</udb:JobRegistreringstid>
          </udb:JobOnsker>
          <udb:UddannelsesOnsker>
            <udb:UddannelsesOnsker>Erhvervsuddannelse (EUD), bygge og anlæg</udb:UddannelsesOnsker>
            <udb:UddannelseRegistreringstid>2026-11-20T09:20:00</udb:UddannelseRegistreringstid>
          </udb:UddannelsesOnsker>
        </udb:IndberetningKontaktJobOgUddOenskerRequest>
      </v1:Message>
    </v1:IndberetningKontaktJobOgUddOenskerRequest>
  </s:Body>
</s:Envelope>
"""

#: Copy of examples/fault-schema.xml: an IPL000002 fault as the platform sends it.
FAULT_EXAMPLE_XML = """\
<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
  <s:Body>
    <s:Fault>
      <s:Code><s:Value>s:Sender</s:Value></s:Code>
      <s:Reason><s:Text xml:lang="en">Input error</s:Text></s:Reason>
      <s:Detail>
        <ServiceFaultDetailer xmlns="http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0">
          <CorrelationID>3e5f08f7-53c0-4f9e-9743-b83cb8c65f42</CorrelationID>
          <Timestamp>2026-11-26T10:15:02.118+01:00</Timestamp>
          <ErrorCode>IPL000002</ErrorCode>
          <ErrorMessage>The request is invalid according to the schema definition. Check details for further information</ErrorMessage>
          <Details>line 14, column 52: element KontaktNavn: value is longer than the maximum length 100</Details>
        </ServiceFaultDetailer>
      </s:Detail>
    </s:Fault>
  </s:Body>
</s:Envelope>
"""

#: A WS-Security header block as the live platform's clients send it
#: (shortened from examples/signed-request.xml; the service does not process it yet).
SECURITY_HEADER = """\
<s:Header>
    <o:Security s:mustUnderstand="{must_understand}"
        xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
        xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
      <u:Timestamp u:Id="TimestampRef">
        <u:Created>2026-11-26T18:57:39.928Z</u:Created>
        <u:Expires>2026-11-26T19:02:39.928Z</u:Expires>
      </u:Timestamp>
    </o:Security>
  </s:Header>"""

PING_XML = """\
<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
  <s:Body>
    <v1:Ping xmlns:v1="http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"/>
  </s:Body>
</s:Envelope>
"""


def _element(local: str) -> re.Pattern[str]:
    """The one-line element ``<p:local ...>text</p:local>`` (any prefix)."""
    return re.compile(rf"<(\w+):{local}(?=[\s>/])([^>]*)>(.*?)</\1:{local}>")


def request_text(
    *,
    replace: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    soap11: bool = False,
    header: str | None = None,
    source: str = REQUEST_XML,
) -> str:
    """The example request with element texts replaced or whole lines removed.

    ``replace`` maps a leaf element's local name to its new (raw, unescaped
    XML) content; every occurrence is replaced. ``remove`` drops the lines of
    the named elements (a block's start tag line up to its end tag line).
    """
    text = source
    for local, value in (replace or {}).items():
        pattern = _element(local)
        if not pattern.search(text):
            raise KeyError(local)
        text = pattern.sub(lambda m, n=local, v=value: f"<{m[1]}:{n}{m[2]}>{v}</{m[1]}:{n}>", text)
    for local in remove:
        block = re.compile(
            rf"^([ \t]*)<(\w+):{local}>\n.*?^\1</\2:{local}>\n"
            rf"|^[ \t]*<(\w+):{local}(?=[\s>/])[^\n]*?</\3:{local}>\n",
            re.MULTILINE | re.DOTALL,
        )
        text, count = block.subn("", text, count=1)
        if count != 1:
            raise KeyError(local)
    if header is not None:
        text = text.replace("<s:Header/>", header, 1)
    if soap11:
        text = text.replace(SOAP12_ENV, SOAP11_ENV)
    return text


def request(**kwargs: object) -> bytes:
    """:func:`request_text` encoded as UTF-8."""
    return request_text(**kwargs).encode("utf-8")  # type: ignore[arg-type]


UNKNOWN_HEADER = """\
<s:Header>
    <x:Routing s:mustUnderstand="{must_understand}" xmlns:x="urn:example:routing">
      <x:Via>somewhere</x:Via>
    </x:Routing>
  </s:Header>"""


def unknown_header(must_understand: str = "1") -> str:
    """A header block the service does not process."""
    return UNKNOWN_HEADER.format(must_understand=must_understand)


def security_header(must_understand: str = "1") -> str:
    return SECURITY_HEADER.format(must_understand=must_understand)


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, column


def minified(text: str) -> str:
    """``text`` on one line: whitespace between tags removed."""
    return re.sub(r">\s+<", "><", re.sub(r"\s*\n\s*", " ", text.strip()))
