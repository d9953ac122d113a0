"""Hit counters from a device, folded onto the policy statements zonewall's rules came from.

zonewall writes each rule's statement into the config: an iptables `-m comment --comment
"FILE:LINE allow ..."`, an nft `comment "FILE:LINE allow ..."`, an IOS `remark FILE:LINE
allow ...` (or `replies to ...`) before the statement's entries.  With the device's counters,
`statement_hits` sums the packets every rule of a statement matched:

* iptables: `iptables-save -c` (`[packets:bytes] -A ...`) or `iptables -L -v -x -n` (packets
  first, the comment as `/* ... */`);
* nftables: `nft list ruleset` with `counter packets N bytes M` in the commented rules;
* cisco-ios: `show access-lists` (`10 permit ... (1234 matches)`; an entry without
  `matches` has none), mapped to statements through the remarks of the config (`--config`:
  the running config or zonewall's ACL file), ACL by ACL and sequence number by number.

A statement none of whose rules matched since the counters were last cleared is a candidate
for removal (`zonewall audit --counters`).  Lines that carry no statement are not counted.
"""

from __future__ import annotations

import re

__all__ = ["statement_hits"]

_STATEMENT = re.compile(r"^\s*(\S+:\d+) ((?:allow|replies to|deny)\b.*)$")
_COMMENT = re.compile(r'--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))')
_NFT_COMMENT = re.compile(r'comment "([^"]*)"')
_SAVE_COUNT = re.compile(r"^\[(\d+):\d+\]")
_LIST_COUNT = re.compile(r"^\s*(\d+)\s+\d+\s")
_NFT_COUNT = re.compile(r"counter packets (\d+) bytes \d+")
_IOS_ENTRY = re.compile(r"^\s+(\d+) (?:permit|deny)\b.*?(?:\((\d+) matches\))?\s*$")
_IOS_LIST = re.compile(r"^(?:Extended|Standard) IP access list (\S+)")
_IOS_ACL = re.compile(r"^ip access-list (?:extended|standard) (\S+)")

Hits = dict[str, tuple[int, str]]  # "FILE:LINE" -> (packets, the statement's description)


def statement_hits(platform: str, config: str, counters: str) -> Hits:
    """Packets per policy statement (module docstring); {} when nothing names a statement."""
    if platform == "cisco-ios":
        return _ios(config, counters)
    hits: Hits = {}
    for line in counters.splitlines():
        if platform == "nftables":
            comment, count = _NFT_COMMENT.search(line), _NFT_COUNT.search(line)
            text = comment.group(1) if comment else None
        elif "/*" in line:  # iptables -L -v -x -n
            text = line[line.index("/*") + 2 : line.rindex("*/")].strip() if "*/" in line else None
            count = _LIST_COUNT.match(line)
        else:
            m = _COMMENT.search(line)
            text = (m.group(1) or m.group(2)) if m else None
            count = _SAVE_COUNT.match(line.strip())
        _add(hits, text, count)
    return hits


def _add(hits: Hits, text: str | None, count: re.Match[str] | None) -> None:
    if text is None or count is None:
        return
    m = _STATEMENT.match(text.replace('\\"', '"'))
    if m is None:
        return
    key = m.group(1)
    old = hits.get(key, (0, m.group(2)))
    hits[key] = (old[0] + int(count.group(1)), old[1])


def _ios(config: str, counters: str) -> Hits:
    """The statement of each (ACL, sequence number) from the config's remarks, then the
    matches `show access-lists` gives each."""
    owner: dict[tuple[str, int], tuple[str, str]] = {}
    acl, statement, last = None, None, 0
    for line in config.splitlines():
        m = _IOS_ACL.match(line)
        if m is not None:
            acl, statement, last = m.group(1), None, 0
            continue
        if acl is None or not line[:1].isspace():
            acl = None
            continue
        words = line.split()
        if words and words[0].isdigit():
            seq, words = int(words[0]), words[1:]
        else:
            seq = last + 10 if words[:1] in (["permit"], ["deny"]) else last
        if words[:1] == ["remark"]:
            found = _STATEMENT.match(" ".join(words[1:]))
            statement = (found.group(1), found.group(2)) if found else None
        elif words[:1] in (["permit"], ["deny"]):
            last = seq
            if statement is not None:
                owner[(acl, seq)] = statement
    hits: Hits = {}
    for key, desc in owner.values():
        hits.setdefault(key, (0, desc))
    acl = None
    for line in counters.splitlines():
        m = _IOS_LIST.match(line)
        if m is not None:
            acl = m.group(1)
            continue
        e = _IOS_ENTRY.match(line)
        if acl is None or e is None or (acl, int(e.group(1))) not in owner:
            continue
        key, desc = owner[(acl, int(e.group(1)))]
        hits[key] = (hits[key][0] + int(e.group(2) or 0), desc)
    return hits
