"""Plain-English reasons for schema and well-formedness errors.

libxml2's messages quote the submitted values (a CPR number, a name). Faults
must never echo personal data, so every reason is written here from the kind
of error, the name of the element (only names the contract declares) and the
limits the contract sets - never from the submitted text::

    line 18, column 11: element KontaktNavn: value is longer than the maximum length 100
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from lxml import etree

from udb.contract.documents import known_elements

_ELEMENT = re.compile(r"^Element '(?:\{[^}]*\})?([^']+)'(?:, attribute '[^']*')?: ")
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")
_LIMIT = re.compile(r"'(-?\d+)'\)?\.?$")
_SEGMENT = re.compile(r"^(?:[^:\[]+:)?([^\[]+)(?:\[(\d+)\])?$")

# What the value of an element must look like, for pattern and type errors.
_FORMATS = {
    "CPRNr": "must be exactly 10 digits 0-9",
    "KommuneInstitutionNummer": "must be a whole number from 1 to 2147483647",
    "KontaktTelefon": "must be a number of at most 10 digits 0-9",
    "Ok": "must be true or false",
}
_DATETIME = (
    "must be a date and time like 2026-11-20T09:15:00 or 2026-11-20T09:15:00+01:00 "
    "(4-digit year, optional fraction and zone offset)"
)
_NON_BLANK = "must contain at least one character that is not whitespace"


@dataclass(frozen=True, slots=True)
class Violation:
    """One schema or syntax problem at a position of the request document."""

    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


def _declared() -> frozenset[str]:
    return known_elements()


def _local(qualified: str) -> str:
    return qualified.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def element_name(local: str) -> str:
    """``element NAME`` for a name the contract declares; never echoes another name."""
    return f"element {local}" if local in _declared() else "an element not in the contract"


def _expected(message: str) -> str:
    match = _EXPECTED.search(message)
    if not match:
        return ""
    names = [_local(n.strip()) for n in match[1].split(",")]
    names = [n for n in names if n in _declared()] or ["(other elements)"]
    return ", ".join(dict.fromkeys(names))


def _format_of(local: str) -> str:
    if local.endswith("Registreringstid"):
        return _DATETIME
    return _FORMATS.get(local, _NON_BLANK)


def _limit(message: str) -> str:
    match = _LIMIT.search(message)
    return match[1] if match else "?"


def reason(entry: etree._LogEntry) -> str:
    """The reason for one libxml2 schema error, free of submitted values."""
    message = entry.message or ""
    match = _ELEMENT.match(message)
    local = match[1] if match else ""
    local = _local(local)
    subject = element_name(local) if local else "the request"
    kind = entry.type_name
    if kind == "SCHEMAV_CVC_MAXLENGTH_VALID":
        return f"{subject}: value is longer than the maximum length {_limit(message)}"
    if kind == "SCHEMAV_CVC_MINLENGTH_VALID":
        return f"{subject}: value is shorter than the minimum length {_limit(message)}"
    if kind in ("SCHEMAV_CVC_PATTERN_VALID", "SCHEMAV_CVC_DATATYPE_VALID_1_2_1"):
        return f"{subject}: value {_format_of(local)}"
    if kind == "SCHEMAV_CVC_MININCLUSIVE_VALID":
        return f"{subject}: value is less than the minimum {_limit(message)}"
    if kind == "SCHEMAV_CVC_MAXINCLUSIVE_VALID":
        return f"{subject}: value is greater than the maximum {_limit(message)}"
    if kind == "SCHEMAV_CVC_TOTALDIGITS_VALID":
        return f"{subject}: value has more than {_limit(message)} digits"
    if kind == "SCHEMAV_CVC_ENUMERATION_VALID":
        return f"{subject}: value is not one of the allowed values"
    if kind == "SCHEMAV_ELEMENT_CONTENT":
        expected = _expected(message)
        if "Missing child element" in message:
            return f"{subject}: a required child element is missing; expected {expected}"
        if expected:
            return f"{subject}: not expected here; expected {expected}"
        return f"{subject}: not expected here; no further element is allowed"
    if kind == "SCHEMAV_CVC_ELT_1":
        return f"{subject}: not an operation of this service"
    if kind in (
        "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1",
        "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2",
        "SCHEMAV_CVC_TYPE_3_1_1",  # an attribute on an element of simple type
    ):
        return f"{subject}: attributes are not allowed here"
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_3":
        return f"{subject}: text is not allowed here, only child elements"
    if kind in ("SCHEMAV_CVC_COMPLEX_TYPE_2_1", "SCHEMAV_CVC_ELT_3_2_1"):
        return f"{subject}: must be empty"
    # TYPE_3_1_2: a child element inside an element of simple type
    if kind in ("SCHEMAV_CVC_COMPLEX_TYPE_2_2", "SCHEMAV_CVC_TYPE_3_1_2"):
        return f"{subject}: child elements are not allowed here, only text"
    readable = kind.removeprefix("SCHEMAV_").replace("_", " ").lower()
    return f"{subject}: is not valid according to the schema ({readable})"


def _element_at(root: etree._Element, path: str | None) -> etree._Element | None:
    """The element a libxml2 error path (``/p:A/p:B[2]/p:C``) names below ``root``.

    An element in a default namespace (no prefix) is written ``*``, its index
    counting all element siblings (``/p:A/*/*[2]``).
    """
    if not path or not path.startswith("/"):
        return None
    segments = path.strip("/").split("/")
    node = root
    first = _SEGMENT.match(segments[0])
    if first is None or first[1] not in ("*", etree.QName(node).localname):
        return None
    for segment in segments[1:]:
        match = _SEGMENT.match(segment)
        if match is None:
            return None
        local, index = match[1], int(match[2] or 1)
        same = [
            c for c in node if isinstance(c.tag, str) and local in ("*", etree.QName(c).localname)
        ]
        if len(same) < index:
            return None
        node = same[index - 1]
    return node


def _start_tag(element: etree._Element, lines: list[str]) -> tuple[int, int] | None:
    """1-based line and column where ``element``'s start tag begins (None if not found).

    libxml2 records the line on which a start tag *ends*; a start tag written
    over several lines (attributes on lines of their own) begins further up.
    """
    line_no = element.sourceline or 0
    if not 0 < line_no <= len(lines):
        return None
    tag = etree.QName(element).localname
    if element.prefix:
        tag = f"{element.prefix}:{tag}"
    before = 0
    for other in element.getroottree().iter(str(element.tag)):
        if other is element:
            break
        if other.sourceline == line_no and other.prefix == element.prefix:
            before += 1
    text = "\n".join(lines[:line_no])
    last_line = text.rfind("\n") + 1
    start_tag = re.compile(f"<{re.escape(tag)}(?=[\\s/>])(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
    starts = [m.start() for m in start_tag.finditer(text) if m.end() > last_line]
    if before >= len(starts):
        return None
    start = starts[before]
    return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1


def source_lines(source: bytes, encoding: str | None) -> list[str]:
    try:
        text = source.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        text = source.decode("utf-8", errors="replace")
    # libxml2 counts lines at LF only (not at a lone CR, NEL or U+2028)
    return text.split("\n")


def describe(
    errors: Iterable[etree._LogEntry], root: etree._Element, source: bytes
) -> list[Violation]:
    """Violations for the schema errors of ``root``, one per element and line."""
    lines = source_lines(source, root.getroottree().docinfo.encoding)
    seen: set[tuple[int, str]] = set()
    found: list[Violation] = []
    for entry in errors:
        element = _element_at(root, entry.path)
        line = entry.line or (element.sourceline if element is not None else 0) or 1
        key = (line, entry.path or "")
        if key in seen:  # libxml2 reports a bad pattern and then the bad type
            continue
        seen.add(key)
        start = _start_tag(element, lines) if element is not None else None
        line, column = start or (line, 1)
        found.append(Violation(line, column, reason(entry)))
    return found


def at(element: etree._Element, source: bytes, reason: str) -> Violation:
    """A violation at the start tag of ``element`` in ``source``."""
    lines = source_lines(source, element.getroottree().docinfo.encoding)
    line, column = _start_tag(element, lines) or (element.sourceline or 1, 1)
    return Violation(line, column, reason)


def syntax_violation(exc: etree.XMLSyntaxError) -> Violation:
    """The first well-formedness error, without the parser's quotation of the input."""
    line, column = exc.lineno or 1, exc.offset or 1
    kind = _error_names().get(exc.code, "")
    readable = _SYNTAX.get(kind) or kind.removeprefix("ERR_").replace("_", " ").lower()
    return Violation(line, column, f"the request is not well-formed XML: {readable or 'error'}")


@cache
def _error_names() -> dict[int, str]:
    return {
        value: name
        for name, value in vars(etree.ErrorTypes).items()
        if name.isupper() and isinstance(value, int)
    }


_SYNTAX = {
    "ERR_DOCUMENT_EMPTY": "the document is empty",
    "ERR_DOCUMENT_END": "extra content after the end of the document",
    "ERR_TAG_NAME_MISMATCH": "an end tag does not match its start tag",
    "ERR_TAG_NOT_FINISHED": "an element is not closed",
    "ERR_LT_IN_ATTRIBUTE": "'<' in an attribute value",
    "ERR_INVALID_CHAR": "a character that XML does not allow",
    "ERR_INVALID_ENCODING": "bytes that are not valid in the document's encoding",
    "ERR_UNDECLARED_ENTITY": "an entity reference (entities are not allowed)",
    "ERR_UNDECLARED_ENTITY_": "an entity reference (entities are not allowed)",
    "ERR_UNKNOWN_ENCODING": "an encoding that is not supported",
    "ERR_UNSUPPORTED_ENCODING": "an encoding that is not supported",
    "ERR_RESOURCE_LIMIT": "the document exceeds a parser limit (nesting depth or size)",
    "NS_ERR_UNDEFINED_NAMESPACE": "a namespace prefix that is not declared",
}
