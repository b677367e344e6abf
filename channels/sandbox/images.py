"""Small valid PNG images made in code, so the sandbox ships no binary files."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def make_png(width: int, height: int, seed: int = 0) -> bytes:
    """An RGB PNG of `width`x`height`: a grey "street" with a dark "pothole" in it.

    `seed` shifts the colours so different photos differ. Deterministic.
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    tint = seed % 40
    cx, cy, r2 = width // 2, height // 2, (min(width, height) // 4) ** 2
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: None
        for x in range(width):
            if (x - cx) ** 2 + (y - cy) ** 2 <= r2:
                rows += bytes((40 + tint, 35, 30))
            else:
                shade = 120 + (x * 60) // width
                rows += bytes((shade, shade, shade - tint // 2))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(rows), 9)),
            _chunk(b"IEND", b""),
        )
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG bytes, or None when `data` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height
