"""Backends: one module per target platform, looked up in one explicit table.

Adding a backend is one change: the module (its docstring gives the target syntax and
semantics: first-match, implicit deny, name limits), its templates under
`templates/<name>/`, a row in `BACKENDS`, golden cases, an example policy and a README line.
"""

from __future__ import annotations

import importlib

from zonewall.backends.base import Backend

__all__ = ["BACKENDS", "get_backend"]

# platform name (as written after `platform` in a gateway) -> "module:class"
BACKENDS: dict[str, str] = {
    "iptables": "zonewall.backends.iptables:IptablesBackend",
    "nftables": "zonewall.backends.nftables:NftablesBackend",
    "cisco-ios": "zonewall.backends.cisco_ios.backend:CiscoIosBackend",
}


def get_backend(platform: str) -> Backend:
    module_name, _, class_name = BACKENDS[platform].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = cls()
    return backend
