"""Real PNG files without an imaging library: a deterministic gradient per prompt."""

from __future__ import annotations

import hashlib
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def render_png(prompt: str, width: int, height: int) -> bytes:
    seed = hashlib.sha256(prompt.encode()).digest()
    r0, g0, b0, r1, g1, b1 = seed[:6]
    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        row = bytearray([0])  # filter: none
        for x in range(width):
            u = x / max(1, width - 1)
            row += bytes(
                (
                    int(r0 + (r1 - r0) * t) & 255,
                    int(g0 + (g1 - g0) * u) & 255,
                    int(b0 + (b1 - b0) * (t + u) / 2) & 255,
                )
            )
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _chunk(b"IEND", b"")
    )
