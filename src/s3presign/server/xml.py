"""S3's XML: rendering responses and parsing request bodies.

Rendering is string building (the shapes are small and fixed, and this is
several times faster than an element tree); parsing goes through defusedxml
because request bodies are untrusted.
"""

from __future__ import annotations

from typing import Iterable
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from s3presign.core.s3errors import S3Error

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# & < > always; CR and other control characters as character references so a
# key survives a round trip (a parser would normalise a literal CR away).
_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;"}
_ESCAPES.update({c: f"&#x{c:X};" for c in range(0x20) if c not in (0x09, 0x0A)})
_ESCAPES[0x7F] = "&#x7F;"


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def el(name: str, value: object) -> str:
    """One element with text content (None: the element is left out)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def tree(name: str, *parts: str) -> str:
    """An element whose children are already rendered."""
    return f"<{name}>{''.join(parts)}</{name}>"


def document(root: str, parts: Iterable[str], *, namespace: bool = True) -> bytes:
    """A whole response document with S3's declaration and namespace."""
    attrs = f' xmlns="{NS}"' if namespace else ""
    return f'{DECLARATION}<{root}{attrs}>{"".join(parts)}</{root}>'.encode("utf-8")


def error_document(err: S3Error, request_id: str, host_id: str) -> bytes:
    """S3's <Error> body: code, message, the error's extra elements, ids."""
    extra = "".join(el(k, v) for k, v in err.elements.items())
    return (
        f"{DECLARATION}<Error>{el('Code', err.code)}{el('Message', err.message)}{extra}"
        f"{el('RequestId', request_id)}{el('HostId', host_id)}</Error>"
    ).encode("utf-8")


def parse(body: bytes) -> Element:
    """A request body's root element; anything unparseable or unsafe is MalformedXML."""
    if not body.strip():
        raise S3Error("MalformedXML")
    try:
        return SafeET.fromstring(body, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        raise S3Error("MalformedXML") from None


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]


def children(elem: Element, name: str) -> list[Element]:
    return [c for c in elem if local(c.tag) == name]


def child(elem: Element, name: str) -> Element | None:
    for c in elem:
        if local(c.tag) == name:
            return c
    return None


def text(elem: Element, name: str) -> str | None:
    c = child(elem, name)
    return None if c is None else (c.text or "")
