"""spyne doing only parse + schema validation of the report, and a fixed answer: the
comparison server of the benchmark (the issue's "spyne doing only parse + validate of the
same request").

The service receives the same SOAP 1.2 request as ``udb serve`` (``docs/examples/request.xml``:
the IPL wrapper ``v1:IndberetningKontaktJobOgUddOenskerRequest`` with ``v1:Identifier`` and
``v1:Message`` holding ``udb:IndberetningKontaktJobOgUddOenskerRequest``).
spyne parses it with lxml, validates the Body against the XML Schema it generates from the
types below (``validator='lxml'``), maps it to Python objects and answers every valid
request with the same ``Ok=true`` answer; an invalid one gets spyne's SOAP fault. No
WS-Security, no business rules, no database: what is left is what a spyne service costs
at the least, to compare with our own endpoint under the same wrk load.

The types follow ``src/udb/contract/files/udb.xsd`` and ``ipl.xsd`` (lengths, patterns,
integer types, occurrence) as far as spyne can say them; spyne writes no ``ref`` to an
element of another namespace, so ``Message`` is a complex type of the UDB namespace: its
child element is then in that namespace, as ``ref="udb:..."`` makes it in ``ipl.xsd``.

Served by granian's WSGI interface: ``bench.spyne_env.spyne_command``. It imports only in
the virtualenv of ``bench/spyne-requirements.lock`` (``bench.spyne_env.spyne_python``).
"""

from spyne import Application, ComplexModel, Service, rpc
from spyne.model.primitive import Boolean, DateTime, Integer32, Unicode, UnsignedInteger
from spyne.protocol.soap import Soap12
from spyne.server.wsgi import WsgiApplication

IPL = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
UDB = "http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"

# spyne's default for an element is minOccurs=0 and nillable; the schema's are minOccurs=1
REQUIRED = {"min_occurs": 1, "nillable": False}
OPTIONAL = {"min_occurs": 0, "nillable": False}


def _simple(base, name, occurs=REQUIRED, **facets):
    """A named simple type of the UDB namespace (as in udb.xsd) and its elements' occurrence."""
    return base.customize(type_name=name, __namespace__=UDB, **occurs, **facets)


NON_BLANK = r"[\s\S]*\S[\s\S]*"
NonBlankString100 = _simple(Unicode, "NonBlankString100", min_len=1, max_len=100, pattern=NON_BLANK)
NonBlankString200 = _simple(Unicode, "NonBlankString200", min_len=1, max_len=200, pattern=NON_BLANK)
CPRNrType = _simple(Unicode, "CPRNrType", pattern="[0-9]{10}")
InstitutionNummerType = _simple(Integer32, "InstitutionNummerType", ge=1)
TelefonType = _simple(
    UnsignedInteger, "TelefonType", OPTIONAL, total_digits=10, pattern="[0-9]{1,10}"
)
RegistreringstidType = _simple(
    DateTime,
    "RegistreringstidType",
    pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"(Z|[+\-][0-9]{2}:[0-9]{2})?",
)


class KommuneKontaktType(ComplexModel):
    __namespace__ = UDB
    _type_info = (
        ("KontaktNavn", NonBlankString100),
        ("KontaktMail", NonBlankString100),
        ("KontaktTelefon", TelefonType),
        ("KontaktRegistreringstid", RegistreringstidType),
    )


class JobOnskerType(ComplexModel):
    __namespace__ = UDB
    _type_info = (
        ("JobOnsker", NonBlankString200),
        ("JobRegistreringstid", RegistreringstidType),
    )


class UddannelsesOnskerType(ComplexModel):
    __namespace__ = UDB
    _type_info = (
        ("UddannelsesOnsker", NonBlankString200),
        ("UddannelseRegistreringstid", RegistreringstidType),
    )


class IndberetningKontaktJobOgUddOenskerRequestType(ComplexModel):
    __namespace__ = UDB
    _type_info = (
        ("ModtagerSystemID", NonBlankString100),
        ("CPRNr", CPRNrType),
        ("KommuneInstitutionNummer", InstitutionNummerType),
        ("KommuneKontakt", KommuneKontaktType.customize(**OPTIONAL)),
        ("JobOnsker", JobOnskerType.customize(**OPTIONAL)),
        ("UddannelsesOnsker", UddannelsesOnskerType.customize(**OPTIONAL)),
    )


class MessageType(ComplexModel):
    """The content of ``v1:Message``: in the UDB namespace, see the module's docstring."""

    __namespace__ = UDB
    _type_info = (
        (
            "IndberetningKontaktJobOgUddOenskerRequest",
            IndberetningKontaktJobOgUddOenskerRequestType.customize(**REQUIRED),
        ),
    )


class IdentifierType(ComplexModel):
    __namespace__ = IPL
    _type_info = (
        ("SystemName", NonBlankString100),
        ("SystemTransactionID", NonBlankString100),
    )


class IplRequestType(ComplexModel):
    """``v1:IndberetningKontaktJobOgUddOenskerRequest``, the Body's element."""

    __namespace__ = IPL
    _type_info = (
        ("Identifier", IdentifierType.customize(**REQUIRED)),
        ("Message", MessageType.customize(**REQUIRED)),
    )


class IndberetningSvarType(ComplexModel):
    __namespace__ = UDB
    _type_info = (("Ok", Boolean.customize(**REQUIRED)),)


class SvarMessageType(ComplexModel):
    __namespace__ = UDB
    _type_info = (("IndberetningSvar", IndberetningSvarType.customize(**REQUIRED)),)


class IplResponseType(ComplexModel):
    __namespace__ = IPL
    _type_info = (("Message", SvarMessageType.customize(**REQUIRED)),)


#: the answer to every valid report
ANSWER = IplResponseType(Message=SvarMessageType(IndberetningSvar=IndberetningSvarType(Ok=True)))


class IndberetningService(Service):
    @rpc(
        IplRequestType,
        _body_style="bare",
        _in_message_name="IndberetningKontaktJobOgUddOenskerRequest",
        _returns=IplResponseType,
        _out_message_name="IndberetningKontaktJobOgUddOenskerResponse",
    )
    def IndberetningKontaktJobOgUddOensker(ctx, request):
        return ANSWER


class FaultingSoap12(Soap12):
    """spyne 2.14.0's Soap12 cannot write its own schema validation fault on Python 3.

    ``SchemaValidationError`` holds the message as bytes, which lxml's element maker
    refuses (the answer was an HTTP 500 with an empty body), and Soap12's writer for it
    puts the Code where the Reason belongs. It is written as any other fault instead:
    Code Sender/SchemaValidationError and Reason/Text lxml's message.
    """

    def schema_validation_error_to_parent(self, ctx, cls, inst, parent, ns, **kwargs):
        if isinstance(inst.faultstring, bytes):
            inst.faultstring = inst.faultstring.decode("ascii")
        return self.fault_to_parent(ctx, cls, inst, parent, ns, **kwargs)


app = Application(
    [IndberetningService],
    tns=IPL,
    name="IndberetningKontaktJobOgUddOensker",
    in_protocol=Soap12(validator="lxml"),
    out_protocol=FaultingSoap12(),
)
#: the WSGI application; spyne answers a POST on any path
application = WsgiApplication(app)
