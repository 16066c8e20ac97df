"""XML namespaces: the only place a namespace URI is written down.

Every module that builds or reads XML takes its namespaces from here.
"""

from typing import Final

#: IPL wrapper of this service (Identifier, Message, CorrelationID, faults, Ping).
IPL: Final = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
#: Business layer of UDB (the report and IndberetningSvar).
UDB: Final = "http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"

SOAP12_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"

XML: Final = "http://www.w3.org/XML/1998/namespace"
XSD: Final = "http://www.w3.org/2001/XMLSchema"
WSDL: Final = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12: Final = "http://schemas.xmlsoap.org/wsdl/soap12/"


def qname(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local`` as lxml uses it."""
    return f"{{{namespace}}}{local}"
