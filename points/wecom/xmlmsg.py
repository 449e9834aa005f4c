"""WeCom message XML: safe parsing into plain dicts, and building for tests and demos.

Everything that arrives over the network is parsed with ``defusedxml`` with DTDs,
entities and external references forbidden: WeCom never sends any of them, so their
presence means a forged or malicious body (billion laughs, XXE).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

__all__ = [
    "ForbiddenXmlError",
    "MalformedXmlError",
    "as_list",
    "build_xml",
    "element_to_value",
    "parse_xml",
]


class MalformedXmlError(ValueError):
    """The text is not well-formed XML (or not the ``<xml>`` shape WeCom uses)."""


class ForbiddenXmlError(ValueError):
    """The XML carries a DTD, an entity declaration or an external reference."""


def parse_root(text: str | bytes) -> Element:
    """Parse XML text with defusedxml and return the root element.

    Raises :class:`ForbiddenXmlError` for DTDs/entities/external references and
    :class:`MalformedXmlError` for anything that is not well-formed.
    """
    try:
        root: Element = fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise ForbiddenXmlError(type(exc).__name__) from None
    except (ParseError, ValueError) as exc:
        # ValueError covers e.g. an XML declaration with an encoding on a str input.
        raise MalformedXmlError(type(exc).__name__) from None
    return root


def element_to_value(element: Element) -> Any:
    """Convert an element into a plain value.

    A leaf becomes its text (``""`` when empty; CDATA is just text); an element with
    children becomes a dict keyed by child tag, where a tag that repeats becomes a
    list in document order. Attributes are ignored: WeCom does not use them.
    """
    children = list(element)
    if not children:
        return element.text or ""
    # Group first, then collapse: a tag seen once is a value, a repeated tag a list.
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(child.tag, []).append(element_to_value(child))
    return {tag: values[0] if len(values) == 1 else values for tag, values in grouped.items()}


def parse_xml(text: str | bytes) -> dict[str, Any]:
    """Parse a WeCom ``<xml>...</xml>`` message into a dict of its children.

    ``<xml><A>1</A><B><C>x</C></B></xml>`` becomes ``{"A": "1", "B": {"C": "x"}}``.
    A root with no children yields ``{}``.
    """
    root = parse_root(text)
    value = element_to_value(root)
    if isinstance(value, str):
        if value.strip():
            raise MalformedXmlError("root element has text but no fields")
        return {}
    result: dict[str, Any] = value
    return result


def as_list(value: Any) -> list[Any]:
    """Normalise a field that may be absent, single or repeated into a list.

    XML cannot tell "one item" from "a list of one", so mapping code reads every
    possibly-repeated field (``SpRecord``, ``Details``, ``TagId``) through this.
    """
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside a CDATA section: split it across two sections.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _render(tag: str, value: Any, out: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _render(tag, item, out)
        return
    out.append(f"<{tag}>")
    if isinstance(value, Mapping):
        for key, child in value.items():
            _render(str(key), child, out)
    elif isinstance(value, bool):
        out.append("1" if value else "0")
    elif isinstance(value, int):
        out.append(str(value))
    elif value is not None:
        out.append(_cdata(str(value)))
    out.append(f"</{tag}>")


def build_xml(fields: Mapping[str, Any], root: str = "xml") -> str:
    """Build WeCom-style XML from a dict (the inverse of :func:`parse_xml`).

    Strings go into CDATA sections, ints are written bare (as WeCom does for
    ``CreateTime``), dicts nest and lists repeat the element.
    """
    out: list[str] = []
    _render(root, fields, out)
    return "".join(out)
