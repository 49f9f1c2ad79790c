"""List-objects request flags (Go `apc.LsoMsg.Flags`, SDK `ListObjectFlag`: bit positions) and entry flags."""

from __future__ import annotations

CACHED = 1 << 0
MISSING = 1 << 1
DELETED = 1 << 2
ARCH_DIR = 1 << 3
NAME_ONLY = 1 << 4
NAME_SIZE = 1 << 5
BCK_PRESENT = 1 << 6
DONT_HEAD_REMOTE = 1 << 7
DONT_ADD_REMOTE = 1 << 8
NOT_CACHED = 1 << 9
ONLY_REMOTE_PROPS = 1 << 10
NO_RECURSION = 1 << 11
DIFF = 1 << 12
NO_DIRS = 1 << 13
IS_S3 = 1 << 14
NBI = 1 << 15

NAMES = {
    CACHED: "CACHED", MISSING: "MISSING", DELETED: "DELETED", ARCH_DIR: "ARCH_DIR", NAME_ONLY: "NAME_ONLY",
    NAME_SIZE: "NAME_SIZE", BCK_PRESENT: "BCK_PRESENT", DONT_HEAD_REMOTE: "DONT_HEAD_REMOTE",
    DONT_ADD_REMOTE: "DONT_ADD_REMOTE", NOT_CACHED: "NOT_CACHED", ONLY_REMOTE_PROPS: "ONLY_REMOTE_PROPS",
    NO_RECURSION: "NO_RECURSION", DIFF: "DIFF", NO_DIRS: "NO_DIRS", IS_S3: "IS_S3", NBI: "NBI",
}
# honoured by the listing; BCK_PRESENT / DONT_HEAD_REMOTE / DONT_ADD_REMOTE only say how to find the
# bucket (it must exist here anyway), NAME_SIZE is the default shape, IS_S3 only changes the S3 API's view
SUPPORTED = (CACHED | ARCH_DIR | NAME_ONLY | NAME_SIZE | BCK_PRESENT | DONT_HEAD_REMOTE | DONT_ADD_REMOTE
             | NO_RECURSION | NO_DIRS | IS_S3)

# entry flags (Go `apc.EntryIs*`): bits 0..4 are the status (0 = OK)
ENTRY_CACHED = 64
ENTRY_IN_ARCH = 128
ENTRY_IS_DIR = 256
ENTRY_IS_ARCHIVE = 512


def unsupported(flags: int) -> list[str]:
    """Names of the bits in `flags` this cluster does not implement (unknown bits as `bit N`)."""
    out = []
    for bit in range(max(flags.bit_length(), 0)):
        b = 1 << bit
        if flags & b and not SUPPORTED & b:
            out.append(NAMES.get(b, f"bit {bit}"))
    return out
