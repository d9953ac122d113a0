"""Shared test configuration: hypothesis profiles.

`HYPOTHESIS_PROFILE=ci` makes property tests reproducible (derandomized, no deadline, a fixed
number of examples); `dev` (the default) keeps hypothesis's own defaults, except the deadline:
compiling a policy sometimes exceeds 200 ms on a loaded machine and that is not a failure.
"""

from __future__ import annotations

import os
import warnings

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=150)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# When a property fails, hypothesis's pytest plugin imports libcst to suggest an @example
# patch; some libcst releases warn (DeprecationWarning from mypy_extensions) on import, and
# with filterwarnings=error that turns the test's failure report into an INTERNALERROR.
# Importing it once here, with that warning silenced, keeps failures reported normally.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import libcst  # noqa: F401
    except ImportError:
        pass


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden/expected files from the current output",
    )
