"""A griffe extension for the API reference: Sphinx roles in docstrings become code spans.

The numpydoc docstrings use ``:func:`name```, ``:class:`~pkg.Name``` ... which Markdown would
show verbatim. This rewrites each role to a plain code span (``~`` keeps the last component, as
in Sphinx). Loaded by mkdocstrings (``extensions`` in mkdocs.yml); the sources are not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const|ref|term):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    if "<" in target and target.endswith(">"):  # :ref:`text <target>`
        target = target.split("<", 1)[0].strip()
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def strip_roles(text: str) -> str:
    """``text`` with every Sphinx cross-reference role replaced by a code span."""
    return ROLE.sub(_code, text)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called for every module, class, function and attribute."""
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(obj.docstring.value)
