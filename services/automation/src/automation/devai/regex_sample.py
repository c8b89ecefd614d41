"""One short string that matches a regular expression (for `pattern` in a JSON schema).

Built from the pattern's parse tree (the standard library's own regex parser), taking the shortest
choice everywhere: the first branch, the minimum repeat (at least one where a repeat may be empty,
so `\\d*` still yields a digit), the first character of a class. Look-arounds and back-references
are not generated; a pattern using them may get no string (None), which the caller handles.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# Python 3.11+ (the project's floor): the parser lives in re._parser (sre_parse is deprecated).
# Imported by name: typeshed versions disagree on whether `re._parser` exists, so a plain import
# (with or without a type-ignore) fails mypy in one environment or another.
sre: Any = importlib.import_module("re._parser")

_CATEGORY = {
    "CATEGORY_DIGIT": "1",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
}
_CATEGORY_RE = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
}
_CANDIDATES = "a1A-_ .x"


def sample(pattern: str) -> str | None:
    try:
        tree = sre.parse(pattern)
    except re.error:
        return None
    text = _emit(list(tree))
    return text if text is not None and re.search(pattern, text) else None


def _emit(items: list[Any]) -> str | None:
    out = []
    for op, arg in items:
        part = _one(str(op), arg)
        if part is None:
            return None
        out.append(part)
    return "".join(out)


def _one(op: str, arg: Any) -> str | None:
    if op == "LITERAL":
        return chr(arg)
    if op == "NOT_LITERAL":
        return next(c for c in _CANDIDATES if ord(c) != arg)
    if op == "ANY":
        return "a"
    if op == "AT":
        return ""
    if op == "IN":
        return _in(arg)
    if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, _high, body = arg
        body_text = _emit(list(body))
        return None if body_text is None else body_text * max(low, 1 if _high else 0)
    if op == "SUBPATTERN":
        return _emit(list(arg[-1]))
    if op == "ATOMIC_GROUP":
        return _emit(list(arg))
    if op == "BRANCH":
        return _emit(list(arg[1][0]))
    return None  # look-arounds, back-references, conditionals


def _in(items: list[Any]) -> str | None:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    members = [(str(op), arg) for op, arg in items if str(op) != "NEGATE"]

    def matches(char: str) -> bool:
        for op, arg in members:
            if op == "LITERAL" and ord(char) == arg:
                return True
            if op == "RANGE" and arg[0] <= ord(char) <= arg[1]:
                return True
            if op == "CATEGORY" and re.fullmatch(_CATEGORY_RE.get(str(arg), r"(?!)"), char):
                return True
        return False

    if not negate:
        op, arg = members[0]
        if op == "LITERAL":
            return chr(arg)
        if op == "RANGE":
            return chr(arg[0])
        if op == "CATEGORY":
            return _CATEGORY.get(str(arg))
        return None
    return next((c for c in _CANDIDATES if not matches(c)), None)
