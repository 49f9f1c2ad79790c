"""A multi-object selection (Go `apc.ListRange`): names | range template | prefix (a listing).

One value for every multi-object job — prefetch, evict/delete list-range, download, and next
copy/ETL. It travels to the targets as is (never as a list of expanded names); each target
iterates it lazily and keeps its HRW share. Names and templates are iterated here, from any
index, in O(1) memory; a prefix selection needs a listing, which `jobs/selection.py` pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice
from dataclasses import dataclass
from typing import Any

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.names import validate_obj_name
from ais_ray.core.template import Template


@dataclass(frozen=True, slots=True)
class Selection:
    names: tuple[str, ...] = ()  # an explicit list, or
    template: str = ""  # a range template, or
    prefix: str = ""  # every object under the prefix ("" with neither of the above: the whole bucket)

    @classmethod
    def from_msg(cls, value: Mapping[str, Any], *, listing: bool = True) -> Selection:
        """Parse `{"objnames": [...]}` or `{"template": "..."}` (Go ListRange), validating what can be.

        A prefix-only or empty template selects by listing; with `listing=False` (evict/delete
        of named objects) it is a 400. A template's first and last names are validated now; the
        names between share their shape.
        """
        objnames = value.get("objnames")
        if objnames:
            if not isinstance(objnames, list):
                raise ErrBadRequest('"objnames": expecting a list of object names')
            return cls(names=tuple(validate_obj_name(str(n)) for n in objnames))
        text = value.get("template") or ""
        if not isinstance(text, str):
            raise ErrBadRequest('"template": expecting a string')
        if not text and not listing:
            raise ErrBadRequest('expecting "objnames" or "template"')
        tmpl = Template.parse(text, max_count=None)
        if not tmpl.is_range:
            if not listing:
                tmpl.require_range()
            return cls(prefix=tmpl.prefix)
        validate_obj_name(tmpl[0])
        validate_obj_name(tmpl[-1])
        return cls(template=text)

    @property
    def is_listing(self) -> bool:
        """Selected by listing (a prefix, or the whole bucket), not by name."""
        return not self.names and not self.template

    def count(self) -> int:
        """How many names, without producing them; -1 when only a listing can tell."""
        if self.names:
            return len(self.names)
        if self.template:
            return self._tmpl().count()
        return -1

    def iter(self, start: int = 0) -> Iterator[str]:
        """The names from index `start` on, lazily (a 10M-name template costs no memory)."""
        if self.names:
            return islice(self.names, start, None)
        if self.template:
            return self._tmpl().iter(start)
        raise ValueError("a prefix selection is iterated by listing (jobs/selection.py)")

    def _tmpl(self) -> Template:
        return Template.parse(self.template, max_count=None)
