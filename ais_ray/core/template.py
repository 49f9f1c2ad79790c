"""Range templates: `shard-{0000..9999}.tar`, `pfx-@00100`, plain prefixes, and match-all.

Downloads, prefetch, copy, evict and delete all select objects with one template string;
names are produced lazily and by index, so a 10-million-name range costs no memory and
a resumed job can restart at name k without producing the first k.
Mirrors AIStore `cmn/cos/template.go` (`NewParsedTemplate`, `ParseBashTemplate`,
`ParseAtTemplate`, `ParseFmtTemplate`, `CheckCount`).

Forms, tried in this order:
- bash: `prefix{START..END[..STEP]}gap{..}suffix`. Several ranges are allowed and the last
  varies fastest. Every number is zero-padded to `min(len(START), len(END))` digits, so
  `{001..999}` gives 001..999 and `{1..1000..10}` gives 1, 11, ..., 991 (not bash's rule).
- at: `prefix@00100suffix` is 0..100 padded to the number's length (several `@` allowed).
- fmt: `prefix%06dsuffix` counts 0.. without end; only accepted with `max_count=None`.
- prefix-only: anything else, with one trailing `*` trimmed; it names no objects itself.
- match-all: `""` or `"*"`, a prefix-only template with an empty prefix (`is_match_all`);
  AIStore returns `ErrEmptyTemplate` here and its callers read it as "every object".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ais_ray.core.errors import ErrInvalidTemplate

MAX_TEMPLATE_EXPANSION = 10_000_000  # Go `maxTemplateExpansion`, enforced by `CheckCount`
MAX_INT64 = (1 << 63) - 1

_GO_INT = re.compile(r"[+-]?[0-9]+")  # what strconv.ParseInt(s, 10, 64) accepts
_BASH_HINT = "expecting e.g. 'prefix-{0001..0010..1}-suffix'"


@dataclass(frozen=True, slots=True)
class TemplateRange:
    """One `{start..end..step}` (or `@end`), followed by the literal `gap` up to the next range."""

    start: int
    end: int
    step: int
    digits: int
    gap: str = ""

    def count(self) -> int:
        return (self.end - self.start) // self.step + 1

    def value(self, i: int) -> str:
        """The i-th number of this range, zero-padded, followed by the gap."""
        return str(self.start + i * self.step).zfill(self.digits) + self.gap


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed range template; build with `Template.parse`."""

    text: str
    prefix: str
    ranges: tuple[TemplateRange, ...] = ()

    @classmethod
    def parse(cls, text: str, *, max_count: int | None = MAX_TEMPLATE_EXPANSION) -> Template:
        """Parse `text` (bash, at, fmt, prefix-only or match-all; see the module docstring).

        `max_count` bounds the number of names (Go `CheckCount`); None lifts it, as
        AIStore's multi-object jobs do, and is required for the unbounded fmt form.

        Raises:
            ErrInvalidTemplate: malformed or unbalanced braces, non-numeric or negative
                numbers, start > end, step <= 0, or more than `max_count` names.
        """
        if text in ("", "*"):
            return cls(text, "")
        parsed = _parse_bash(text)
        if parsed is None:
            parsed = _parse_at(text)
        if parsed is None:
            parsed = _parse_fmt(text)
        if parsed is None:
            return cls(text, text[:-1] if text.endswith("*") else text)
        tmpl = cls(text, *parsed)
        total = tmpl.count()
        if total > MAX_INT64:
            raise ErrInvalidTemplate(f'template "{text}" is too large to expand ({total} names)')
        if max_count is not None and total > max_count:
            raise ErrInvalidTemplate(
                f'template "{text}" expands to {total} names, more than the maximum of {max_count}')
        return tmpl

    @property
    def is_match_all(self) -> bool:
        """`""` or `"*"`: every object of the bucket."""
        return not self.ranges and not self.prefix

    @property
    def is_prefix_only(self) -> bool:
        """No ranges: the template selects objects by `prefix` (a listing), not by name."""
        return not self.ranges

    @property
    def is_range(self) -> bool:
        return bool(self.ranges)

    def require_range(self) -> Template:
        """Return self if it has at least one range (Go `CheckIsRange`).

        Raises:
            ErrInvalidTemplate: a prefix-only or match-all template.
        """
        if not self.ranges:
            raise ErrInvalidTemplate(
                f'template "{self.text}" has no range (prefix "{self.prefix}"); {_BASH_HINT}')
        return self

    def count(self) -> int:
        """Number of names the template produces (0 for prefix-only), without producing them."""
        if not self.ranges:
            return 0
        total = 1
        for r in self.ranges:
            total *= r.count()
        return total

    def __getitem__(self, i: int) -> str:
        """The i-th name (negative counts from the end), in iteration order."""
        n = self.count()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f'template "{self.text}" has {n} names, no index {i}')
        positions = self._positions(i)
        return self.prefix + "".join(r.value(p) for r, p in zip(self.ranges, positions, strict=True))

    def __iter__(self) -> Iterator[str]:
        return self.iter()

    def iter(self, start: int = 0) -> Iterator[str]:
        """Yield the names from index `start` on, lazily: memory is O(number of ranges)."""
        if start < 0:
            raise ValueError(f"start must not be negative, got {start}")
        if not self.ranges or start >= self.count():
            return iter(())
        return self._iter_from(start)

    def _positions(self, index: int) -> list[int]:
        """Split a flat index into per-range positions; the last range is the fastest digit."""
        positions = [0] * len(self.ranges)
        for k in range(len(self.ranges) - 1, -1, -1):
            index, positions[k] = divmod(index, self.ranges[k].count())
        return positions

    def _iter_from(self, start: int) -> Iterator[str]:
        ranges = self.ranges
        outer, last = ranges[:-1], ranges[-1]
        positions = self._positions(start)
        digits, gap, step, end = last.digits, last.gap, last.step, last.end
        first = last.start + positions[-1] * last.step
        while True:
            head = self.prefix + "".join(r.value(p) for r, p in zip(outer, positions[:-1], strict=True))
            for v in range(first, end + 1, step):
                yield head + str(v).zfill(digits) + gap
            first = last.start
            k = len(outer) - 1  # carry into the slower ranges, odometer style
            while k >= 0:
                positions[k] += 1
                if positions[k] < outer[k].count():
                    break
                positions[k] = 0
                k -= 1
            if k < 0:
                return


def has_braces(s: str) -> bool:
    """True if `s` looks like a bash range template: it has both `{` and `}` (the `ais` CLI's test)."""
    return "{" in s and "}" in s


def _go_int(s: str, text: str, what: str) -> int:
    if not _GO_INT.fullmatch(s) or len(s) > 20 or not -MAX_INT64 - 1 <= int(s) <= MAX_INT64:
        raise ErrInvalidTemplate(f'invalid template "{text}": {what} "{s}" is not a valid integer; {_BASH_HINT}')
    return int(s)


def _check_bounds(form: str, text: str, start: int, end: int, step: int) -> None:
    """Go `validateBoundaries`, same order of checks."""
    if start > end:
        raise ErrInvalidTemplate(f"invalid '{form}' template \"{text}\": start {start} is greater than end {end}")
    if start < 0:
        raise ErrInvalidTemplate(f"invalid '{form}' template \"{text}\": start {start} is negative")
    if step <= 0:
        raise ErrInvalidTemplate(f"invalid '{form}' template \"{text}\": step {step} is not positive")


def _parse_bash(text: str) -> tuple[str, tuple[TemplateRange, ...]] | None:
    """Go `ParseBashTemplate`; None when `text` has no `{`.

    Unlike Go, a `{` with no `}` anywhere after it is an error rather than a prefix:
    `x-{0..9` is a typo'd range far more often than an object name.
    """
    left = text.find("{")
    if left == -1:
        return None
    if text.rfind("}") < left:
        raise ErrInvalidTemplate(f'invalid template "{text}": unbalanced braces; {_BASH_HINT}')
    prefix, rest, ranges = text[:left], text, []
    while (left := rest.find("{")) != -1:
        right = rest.find("}")
        if right < left:
            raise ErrInvalidTemplate(f'invalid template "{text}": unbalanced braces; {_BASH_HINT}')
        numbers = rest[left + 1 : right].split("..")
        if len(numbers) not in (2, 3):
            raise ErrInvalidTemplate(
                f'invalid template "{text}": "{{{rest[left + 1 : right]}}}" is not START..END[..STEP]; {_BASH_HINT}')
        start = _go_int(numbers[0], text, "start")
        end = _go_int(numbers[1], text, "end")
        step = _go_int(numbers[2], text, "step") if len(numbers) == 3 else 1
        _check_bounds("bash", text, start, end, step)
        rest = rest[right + 1 :]
        nxt = rest.find("{")
        gap = rest if nxt == -1 else rest[:nxt]
        ranges.append(TemplateRange(start, end, step, min(len(numbers[0]), len(numbers[1])), gap))
    return prefix, tuple(ranges)


def _parse_at(text: str) -> tuple[str, tuple[TemplateRange, ...]] | None:
    """Go `ParseAtTemplate`; None when `text` has no `@`. Every `@` must be followed by digits."""
    left = text.find("@")
    if left == -1:
        return None
    prefix, rest, ranges = text[:left], text, []
    while (left := rest.find("@")) != -1:
        i = left + 1
        while i < len(rest) and rest[i] in "0123456789":
            i += 1
        number = rest[left + 1 : i]
        if not number:
            raise ErrInvalidTemplate(
                f"invalid 'at' template \"{text}\": '@' must be followed by digits "
                "(expecting e.g. 'prefix-@00100-suffix')")
        end = _go_int(number, text, "end")
        _check_bounds("at", text, 0, end, 1)
        rest = rest[i:]
        nxt = rest.find("@")
        ranges.append(TemplateRange(0, end, 1, len(number), rest if nxt == -1 else rest[:nxt]))
    return prefix, tuple(ranges)


def _parse_fmt(text: str) -> tuple[str, tuple[TemplateRange, ...]] | None:
    """Go `ParseFmtTemplate`: exactly one `%`, then `d` or `0<width>d`; None when not that form."""
    percent = text.find("%")
    if percent == -1 or text.find("%", percent + 1) != -1:
        return None
    d = text.find("d", percent)
    bad = ErrInvalidTemplate(f"invalid 'fmt' template \"{text}\" (expecting e.g. 'prefix-%06d-suffix')")
    if d == -1:
        raise bad
    width = text[percent + 1 : d]
    digits = 0
    if width:
        if len(width) == 1 or width[0] != "0" or not width[1:].isdigit() or not width[1:].isascii():
            raise bad
        digits = int(width[1:])
    return text[:percent], (TemplateRange(0, MAX_INT64 - 1, 1, digits, text[d + 1 :]),)
