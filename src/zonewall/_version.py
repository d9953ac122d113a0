"""The version of zonewall: written in every generated file's header, the manifest, SARIF and
JUnit reports and `zonewall -V`.  Ground floor: it imports nothing."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
