"""Policy text read without the parser: an oracle for the parser's and the printer's tests.

Imported as `policy_text` (the `tests/` folder is on `sys.path` through its `conftest.py`, as
for `kernel_util`).
"""

from __future__ import annotations


def plain_comments(text: str) -> list[str]:
    """Comments as a plain scan sees them, independently of the parser: outside a string, `#`
    runs to the end of the line; a string runs from `"` to the next unescaped `"`."""
    found: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            found.append(text[i:end].rstrip())
            i = end
        elif ch == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
            i += 1
        else:
            i += 1
    return found
