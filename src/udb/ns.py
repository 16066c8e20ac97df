"""XML namespaces: the only place a namespace URI is written down.

Every module that builds or reads XML takes its namespaces from here.
"""

from typing import Final

#: IPL wrapper of this service (Identifier, Message, CorrelationID, faults, Ping).
IPL: Final = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
#: Business layer of UDB (the report and IndberetningSvar).
UDB: Final = "http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"
#: IPL wrapper of the read-back service HentKontaktJobOgUddOensker v1 (its own faults and Ping).
HENT_IPL: Final = "http://ipl.stil.dk/services/udb/hentkontaktjoboguddoensker/v1.0"
#: Business layer of the read-back (the request and HentSvar; the blocks' types are UDB's).
HENT: Final = "http://www.udb.stil.dk/hentkontaktjoboguddoensker/v1"

SOAP12_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"

XML: Final = "http://www.w3.org/XML/1998/namespace"
XSD: Final = "http://www.w3.org/2001/XMLSchema"
WSDL: Final = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12: Final = "http://schemas.xmlsoap.org/wsdl/soap12/"

#: WS-Security 1.0 (OASIS 2004): the Security header, BinarySecurityToken, SecurityTokenReference.
WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#: WS-Security utility: Timestamp and the ``wsu:Id`` attribute.
WSU: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#: ``ValueType`` of an X.509 v3 BinarySecurityToken (X.509 token profile 1.0).
WSSE_X509V3: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
)
#: ``EncodingType`` of a base64 BinarySecurityToken (SOAP message security 1.0).
WSSE_BASE64: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
#: XML Signature (xmldsig); algorithm URIs come from ``xmlsec.constants``.
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
#: Exclusive XML canonicalisation (the namespace of ``InclusiveNamespaces``).
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"


def qname(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local`` as lxml uses it."""
    return f"{{{namespace}}}{local}"
