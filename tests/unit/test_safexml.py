"""The hardened parser against an XML attack corpus (after signxml's defusedxml-test-data)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.unit.xmlsamples import REQUEST_XML, SOAP12_ENV
from udb import safexml
from udb.contract.violations import syntax_violation

REFUSED = (safexml.UnsafeXml, safexml.XmlSyntaxError)

SECRET = "TOPSECRET-5f0c1e"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def _laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(entities)}]><lolz>&lol9;</lolz>'.encode()


def _quadratic() -> bytes:
    entity = "x" * 10_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "{entity}">]><a>{"&e;" * 10_000}</a>'
    ).encode()


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', id="internal-subset"),
        pytest.param(b"<!DOCTYPE a><a/>", id="bare-doctype"),
        pytest.param(b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd"><a/>', id="network-dtd"),
        pytest.param(_laughs(), id="billion-laughs"),
        pytest.param(_quadratic(), id="quadratic-blowup"),
    ],
)
def test_documents_with_a_dtd_are_refused(document: bytes) -> None:
    with pytest.raises(REFUSED) as caught:
        safexml.parse(document)
    assert "lol" not in str(caught.value)
    assert "xxxxxxxxxx" not in str(caught.value)


def test_doctype_refusal_is_unsafe_xml_with_plain_reason() -> None:
    with pytest.raises(safexml.UnsafeXml) as caught:
        safexml.parse(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')
    assert caught.value.reason == "a document type declaration (DTD) is not allowed"


@pytest.mark.parametrize(
    "template",
    [
        pytest.param('<!DOCTYPE a SYSTEM "{path}"><a/>', id="external-dtd"),
        pytest.param('<!DOCTYPE a SYSTEM "file://{path}"><a/>', id="external-dtd-file-url"),
        pytest.param('<!DOCTYPE a [<!ENTITY e SYSTEM "file://{path}">]><a>&e;</a>', id="xxe"),
        pytest.param('<!DOCTYPE a [<!ENTITY % p SYSTEM "{path}"> %p;]><a/>', id="parameter-entity"),
        pytest.param(
            '<!DOCTYPE a [<!ENTITY % p SYSTEM "file://{path}">'
            "<!ENTITY % wrap \"<!ENTITY leak SYSTEM 'file://{path}'>\"> %wrap; %p;]><a>&leak;</a>",
            id="nested-parameter-entities",
        ),
    ],
)
@pytest.mark.parametrize("which", ["secret", "hostname"])
def test_local_files_are_never_read(template: str, which: str, secret_file: Path) -> None:
    hostname = Path("/etc/hostname")
    if which == "hostname" and not hostname.is_file():
        pytest.skip("no /etc/hostname here")
    path = secret_file if which == "secret" else hostname
    content = path.read_text(encoding="utf-8").strip()
    document = ('<?xml version="1.0"?>' + template.format(path=path)).encode()
    with pytest.raises(REFUSED) as caught:
        safexml.parse(document)
    message = str(caught.value)
    if len(content) >= 4:  # a two-letter host name could appear by chance
        assert content not in message
    assert SECRET not in message


def test_entity_reference_without_dtd_is_a_syntax_error() -> None:
    with pytest.raises(safexml.XmlSyntaxError) as caught:
        safexml.parse(b"<a>&x0101901234;</a>")
    violation = syntax_violation(caught.value)
    assert violation.reason == (
        "the request is not well-formed XML: an entity reference (entities are not allowed)"
    )
    assert "0101901234" not in violation.reason


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    depth = 10_000
    with pytest.raises(safexml.XmlSyntaxError) as caught:
        safexml.parse(b"<a>" * depth + b"</a>" * depth)
    assert syntax_violation(caught.value).reason == (
        "the request is not well-formed XML: the document exceeds a parser limit "
        "(nesting depth or size)"
    )


def test_nesting_within_the_limit_parses() -> None:
    root = safexml.parse(b"<a>" * 200 + b"</a>" * 200)
    assert sum(1 for _ in root.iter()) == 200


def test_invalid_utf8_is_a_syntax_error() -> None:
    with pytest.raises(safexml.XmlSyntaxError) as caught:
        safexml.parse(b'<?xml version="1.0" encoding="utf-8"?><a>M\xf8tte \xff\xfe</a>')
    assert syntax_violation(caught.value).reason == (
        "the request is not well-formed XML: bytes that are not valid in the document's encoding"
    )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize(
    "text", ['<?xml version="1.0" encoding="UTF-16"?><a>Sørensen</a>', "<a>Sørensen</a>"]
)
def test_utf16_and_utf32_without_bom_are_refused(codec: str, text: str) -> None:
    """XML 1.0 section 4.3.3: such documents must begin with a byte order mark."""
    encoded = text.encode(codec)
    with pytest.raises(safexml.UnsafeXml, match="byte order mark"):
        safexml.parse(encoded)


def test_utf16_with_bom_parses() -> None:
    assert safexml.parse("<a>Sørensen</a>".encode("utf-16")).text == "Sørensen"


def test_huge_attribute_value_parses_or_fails_cleanly() -> None:
    value = "x" * 1_000_000
    outcome: object
    try:
        outcome = safexml.parse(f'<a b="{value}"/>'.encode()).get("b")
    except safexml.XmlSyntaxError as exc:
        outcome = syntax_violation(exc).reason
    assert outcome == value or str(outcome).startswith("the request is not well-formed XML")


@pytest.mark.parametrize(
    "document",
    [b"", b"<a>", b"<a></b>", b"<a/><b/>", b"not xml", b"<a>\x00</a>"],
    ids=["empty", "unclosed", "mismatch", "two-roots", "text", "nul"],
)
def test_malformed_documents_are_syntax_errors(document: bytes) -> None:
    with pytest.raises(safexml.XmlSyntaxError) as caught:
        safexml.parse(document)
    assert syntax_violation(caught.value).reason.startswith("the request is not well-formed XML: ")


def test_well_formed_request_passes() -> None:
    root = safexml.parse(REQUEST_XML.encode("utf-8"))
    assert root.tag == f"{{{SOAP12_ENV}}}Envelope"
    assert "Mette Sørensen" in [e.text for e in root.iter()]


def test_comments_and_processing_instructions_are_kept_out_of_the_way() -> None:
    root = safexml.parse(b"<?pi x?><!-- c --><a><!-- c --><b/></a>")
    assert [child.tag for child in root if isinstance(child.tag, str)] == ["b"]


def test_parser_works_from_several_threads() -> None:
    results: list[str] = []

    def work() -> None:
        results.append(safexml.parse(REQUEST_XML.encode("utf-8")).tag)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [f"{{{SOAP12_ENV}}}Envelope"] * 4
