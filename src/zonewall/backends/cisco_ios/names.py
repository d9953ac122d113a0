"""Names of zonewall's Cisco IOS objects, and the content digest their suffix comes from.

Every ACL and object group zonewall writes on a cisco-ios gateway ends in one suffix, the
first 8 hex digits (upper case) of the gateway's *content digest*: the sha256 of its `.ios`
file with everything that does not change what the switch runs taken out.  That is comment
lines (`!`, the header), ACL `remark` lines, object-group `description` lines, and the
suffix itself (from every name).  So a new comment or `why` text in the policy, or a change
that only affects another gateway, keeps every name; a change of what this gateway enforces
(an entry, an object group, a binding) gives new names, and the new ACLs are built beside the
applied ones (make-before-break, see the header of every `.ios` file).

The lowering names objects with `PLACEHOLDER` for the suffix (a suffix of the same shape, so
the digest of that draft is the digest of the final file), and the backend then renames.  An
auditor recomputes the digest from the file with standard tools: `recipe(FILE)` is the shell
one-liner, printed in the header; a test runs it literally.
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "IPV6_ACL",
    "PLACEHOLDER",
    "acl_name",
    "content_digest",
    "digest_line",
    "recipe",
    "stated_suffix",
    "suffix_of",
    "uplink_acl_name",
    "vty_acl_name",
    "with_suffix",
]

PLACEHOLDER = "0" * 8  # the suffix while lowering: 8 hex digits like every suffix
IPV6_ACL = "ZW6-ND-ONLY-IN"  # the one IPv6 ACL, bound on every interface (plus the suffix)

# Lines that do not change what the switch runs: comments, ACL remarks, group descriptions.
_DROPPED = ("!", " remark ", " description ")
# A zonewall name: ZW, ZWN, ZWS or ZW6, a dash, its label, a dash and the 8-digit suffix,
# then a space or the end of the line.  POSIX ERE and Python read it alike (one name per
# token, and the suffix is the token's end either way).
_NAME_RE = r"(ZW[0-9A-Z]*-[-0-9A-Z_]*[0-9A-Z_])-[0-9A-F]{8}( |$)"
_NAME = re.compile(_NAME_RE)
_NAME_LINES = re.compile(_NAME_RE, re.MULTILINE)  # `$`: the end of each line


def acl_name(class_name: str, suffix: str) -> str:
    """The ACL bound on a class's interface (class names are [a-z0-9_-], at most 31 long)."""
    return f"ZW-{class_name.upper()}-IN-{suffix}"


def uplink_acl_name(class_names: list[str], suffix: str) -> str:
    """`ZW-UPLINK-IN-<suffix>`, unless a served class is named `uplink` (then -1, -2, ...)."""
    taken = {acl_name(c, suffix) for c in class_names}
    labels = ("UPLINK", *(f"UPLINK-{i}" for i in range(1, len(taken) + 2)))
    return next(n for n in (f"ZW-{x}-IN-{suffix}" for x in labels) if n not in taken)


def vty_acl_name(suffix: str) -> str:
    """The standard ACL bound as the vty lines' `access-class` (no class ACL ends in -VTY)."""
    return f"ZW-VTY-{suffix}"


def with_suffix(text: str, suffix: str) -> str:
    """`text` (a name, or an entry field naming groups) with the placeholder suffix replaced."""
    return text.replace(f"-{PLACEHOLDER}", f"-{suffix}")


def content_digest(text: str) -> str:
    """The sha256 (hex) that `recipe` prints for a `.ios` file whose text is `text`."""
    lines = text.split("\n")
    if lines[-1]:
        lines.append("")  # grep ends every line, the last one too
    # one substitution over the kept lines (a name never spans a line)
    kept = "".join(line + "\n" for line in lines[:-1] if not line.startswith(_DROPPED))
    return hashlib.sha256(_NAME_LINES.sub(r"\1\2", kept).encode("utf-8")).hexdigest()


def suffix_of(text: str) -> str:
    """The name suffix of a rendered `.ios` file: its content digest's first 8 hex digits."""
    return content_digest(text)[:8].upper()


def recipe(file: str) -> str:
    """The shell one-liner that prints the content digest of `file` (GNU or BSD tools)."""
    return (
        f"LC_ALL=C grep -av -e '^!' -e '^ remark ' -e '^ description ' {file} "
        f"| LC_ALL=C sed -E 's/{_NAME_RE}/\\1\\2/g' | sha256sum"
    )


_STATED = re.compile(r"^! content-sha256: ([0-9a-f]{64})  ", re.MULTILINE)


def digest_line(digest: str, suffix: str) -> str:
    """The header line stating the content digest (without the `! `); `stated_suffix` reads it."""
    return (
        f"content-sha256: {digest}  (every name zonewall writes here ends in -{suffix}, its "
        "first 8 digits)"
    )


def stated_suffix(text: str) -> str:
    """The suffix a rendered `.ios` file states in its header: what `suffix_of` computes, read
    in one search instead of hashing the whole file again (build needs it for the switch
    config).  The file was proven by translation validation and states its own digest."""
    m = _STATED.search(text)
    assert m is not None, "a zonewall .ios file states its content digest"
    return m[1][:8].upper()
