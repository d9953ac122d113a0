"""How iptables-restore splits a rule line into words (for `iptables`).

Whitespace separates, double quotes group, and inside them a backslash escapes the next
character; outside quotes a backslash is an ordinary character.  The common case (no
backslash, quotes standing alone as generated configs write them) takes a fast path.
"""

from __future__ import annotations

__all__ = ["split_words"]


def split_words(text: str) -> list[str]:
    """Split like iptables-restore: whitespace separates, double quotes group, and inside
    them a backslash escapes the next character (`\\"`, `\\\\`, and `\\'` as iptables-save
    writes it); outside quotes a backslash is an ordinary character.  Raises ValueError on an
    unterminated quote."""
    if "\\" not in text:
        return _split_unescaped(text)
    return _split_escaped(text)


def _split_unescaped(text: str) -> list[str]:
    """`split_words` for text without a backslash: the pieces between quotes alternate
    outside / inside, so whole pieces are split (or kept) at once."""
    parts = text.split('"')
    if len(parts) % 2 == 0:
        raise ValueError("unterminated double quote")
    if _quotes_stand_alone(parts):  # as generated: '-m comment --comment "a b" -j ACCEPT'
        words = parts[0].split()
        for n in range(1, len(parts), 2):
            words.append(parts[n])
            words.extend(parts[n + 1].split())
        return words
    words = []
    cur: str | None = None  # the word being built (None: none started)
    for n, part in enumerate(parts):
        if n % 2:  # inside quotes: literal, and it starts a word even when empty
            cur = part if cur is None else cur + part
            continue
        if not part:
            continue
        pieces = part.split()
        if part[0].isspace() and cur is not None:
            words.append(cur)
            cur = None
        if not pieces:
            continue
        cur = pieces[0] if cur is None else cur + pieces[0]
        for piece in pieces[1:]:
            words.append(cur)
            cur = piece
        if part[-1].isspace():
            words.append(cur)
            cur = None
    if cur is not None:
        words.append(cur)
    return words


def _quotes_stand_alone(parts: list[str]) -> bool:
    """Whether every quoted piece has whitespace or the end of the text on both sides, so each
    is one word and the text between them splits on whitespace alone."""
    last = len(parts) - 1
    for n in range(0, last + 1, 2):
        part = parts[n]
        if not part:
            if 0 < n < last:
                return False
            continue
        if (n > 0 and not part[0].isspace()) or (n < last and not part[-1].isspace()):
            return False
    return True


def _split_escaped(text: str) -> list[str]:
    words: list[str] = []
    cur: list[str] = []
    quoted = started = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and quoted and i + 1 < len(text):
            cur.append(text[i + 1])
            started = True
            i += 2
            continue
        if c == '"':
            quoted = not quoted
            started = True
        elif c.isspace() and not quoted:
            if started:
                words.append("".join(cur))
            cur, started = [], False
        else:
            cur.append(c)
            started = True
        i += 1
    if quoted:
        raise ValueError("unterminated double quote")
    if started:
        words.append("".join(cur))
    return words
