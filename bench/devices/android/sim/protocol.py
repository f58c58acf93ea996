"""The ADB transport protocol as a device speaks it (AOSP `adb/protocol.txt`).

Every message is a 24-byte header of six little-endian uint32 (command, arg0, arg1, data length,
data checksum, command ^ 0xffffffff) and its data. A device answers the host's CNXN with its own
CNXN carrying a banner (`device::ro.product.model=...;features=shell_v2,...`); then each service
is a stream: OPEN(local-id, 0, "service\\0") -> OKAY(remote-id, local-id), WRTE both ways, each WRTE
acknowledged by an OKAY before the next one on that stream, and CLSE to end it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_AUTH = 0x48545541
A_STLS = 0x534C5453

VERSION = 0x01000001  # skips data checksums
MAX_PAYLOAD = 256 * 1024
HEADER = struct.Struct("<6I")

NAMES = {A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE", A_WRTE: "WRTE", A_AUTH: "AUTH",
         A_STLS: "STLS"}


@dataclass(frozen=True, slots=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    def pack(self) -> bytes:
        checksum = sum(self.data) & 0xFFFFFFFF  # older hosts check it; newer ones ignore it
        return HEADER.pack(self.command, self.arg0, self.arg1, len(self.data), checksum,
                           self.command ^ 0xFFFFFFFF) + self.data

    def __repr__(self) -> str:
        return f"{NAMES.get(self.command, hex(self.command))}({self.arg0}, {self.arg1}, {self.data[:40]!r})"


class ProtocolError(Exception):
    pass


def unpack_header(raw: bytes) -> tuple[int, int, int, int]:
    """Return (command, arg0, arg1, data length) of a header; raise ProtocolError if it is not one."""
    command, arg0, arg1, length, _, magic = HEADER.unpack(raw)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic in header {raw.hex()}")
    if length > MAX_PAYLOAD * 4:
        raise ProtocolError(f"message of {length} bytes is larger than any adb sends")
    return command, arg0, arg1, length


# shell protocol v2: each packet is id (1 byte), length (uint32 LE), data
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN, SHELL_WINDOW = range(6)


def shell_packet(kind: int, data: bytes) -> bytes:
    return struct.pack("<BI", kind, len(data)) + data
