"""Job ids shaped like AIStore's, so the SDK, the `ais` CLI and users read them the same way.

Mirrors `cos.GenUUID` and `cos.IsValidUUID` (`cmn/cos/uuid.go`): 9 characters of the
shortid alphabet, a letter in front when the first one is not a letter (or when the id
would look like a rebalance id `g<digits>`), and a letter after a trailing `-` or `_`.
Downloader jobs are `dnl-<uuid>`, global rebalances `g<N>` (`xact/api_const.go`, `xact/base.go`).
"""

from __future__ import annotations

import itertools
import secrets
import string

UUID_ABC = "-5nZJDft6LuzsjGNpPwY7rQa39vehq4i1cV2FROo8yHSlC0BUEdWbIxMmTgKXAk_"
LEN_SHORT_ID = 9  # shortid's length; also the minimum for a valid id
MAX_ID_LEN = 32  # Go `tooLongID`
DOWNLOAD_ID_PREFIX = "dnl-"
REBALANCE_ID_PREFIX = "g"

_LETTERS = frozenset(string.ascii_letters)
_ALNUM = frozenset(string.ascii_letters + string.digits)
_tie = itertools.count(secrets.randbits(32))  # Go's `rtie`: cycles the cosmetic letters


def gen_uuid() -> str:
    """Return a new job id, e.g. "cudIYMAqg": 54 random bits, letter first, no trailing `-`/`_`."""
    bits = secrets.randbits(6 * LEN_SHORT_ID)
    uuid = "".join(UUID_ABC[(bits >> (6 * i)) & 0x3F] for i in range(LEN_SHORT_ID))
    head = tail = ""
    if uuid[0] not in _LETTERS or (uuid[0] == "g" and uuid[1:].isdigit()):
        head = chr(ord("A") + next(_tie) % 26)
    if uuid[-1] in "-_":
        tail = chr(ord("a") + next(_tie) % 26)
    return head + uuid + tail


def is_valid_uuid(s: str) -> bool:
    """True for 9..32 ASCII letters, digits, `-` and `_`, neither of the last two at an end (Go `IsAlphaNice`)."""
    if not LEN_SHORT_ID <= len(s) <= MAX_ID_LEN:
        return False
    if s[0] in "-_" or s[-1] in "-_":
        return False
    return all(c in _ALNUM or c in "-_" for c in s)


def gen_download_id() -> str:
    """Return a downloader job id, e.g. "dnl-c7nsf2UG9" (Go `xact.PrefixDnlID`, `xact/api_const.go`)."""
    return DOWNLOAD_ID_PREFIX + gen_uuid()


def gen_rebalance_id(n: int) -> str:
    """Return the id of the n-th global rebalance, "g<n>" (Go `xact.RebID2S`)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"rebalance number must be a non-negative int, got {n!r}")
    return f"{REBALANCE_ID_PREFIX}{n}"


def parse_rebalance_id(xid: str) -> int | None:
    """Return N for a rebalance id "g<N>", None for any other id (Go `xact.S2RebID`)."""
    if len(xid) > 1 and xid[0] == REBALANCE_ID_PREFIX and xid[1:].isascii() and xid[1:].isdigit():
        return int(xid[1:])
    return None
