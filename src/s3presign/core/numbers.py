"""Strict parsing of the numbers a client sends (query values, headers, XML).

``str.isdigit()`` accepts superscripts and other Unicode digits that ``int()``
rejects, and ``int()`` takes thousands of digits: neither is a safe gate for
untrusted input. Every client-supplied number goes through :func:`ascii_uint`;
the caller maps ``None`` to the S3 error of its context.
"""

from __future__ import annotations

_DIGITS = frozenset(b"0123456789")


def ascii_uint(text: str | bytes | None, max_digits: int = 19) -> int | None:
    """The value of ``text`` if it is 1..max_digits ASCII digits, else None.

    No sign, no whitespace, no underscores: exactly what S3 accepts.
    """
    if text is None:
        return None
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    if not 0 < len(raw) <= max_digits or not _DIGITS.issuperset(raw):
        return None
    return int(raw)
