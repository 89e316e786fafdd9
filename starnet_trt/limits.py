"""Size limits on what starnet-trt reads into memory from files that may come from anywhere.

A word crop is a few kilobytes; a model, a checkpoint or an engine a few hundred megabytes at most. The limits
are far above any real input and far below what would exhaust a server: a file over its limit is refused before
it is read, and an image whose header declares more pixels than :data:`MAX_IMAGE_PIXELS` is refused before it is
decoded (an 875 KB PNG can declare 30000x30000 pixels, which OpenCV would decode into 2.7 GB in 13 s).
Change them at runtime if you must (``starnet_trt.limits.MAX_IMAGE_PIXELS = ...``).
"""

from __future__ import annotations

import os
import struct

MAX_IMAGE_FILE_BYTES = 64 * 1024**2
MAX_IMAGE_PIXELS = 1 << 26  # 8192 x 8192; 201 MB decoded as BGR
MAX_SIDECAR_BYTES = 16 * 1024**2
MAX_ONNX_BYTES = 2 * 1024**3  # protobuf's own ceiling for one message
MAX_ENGINE_BYTES = 4 * 1024**3
MAX_CHECKPOINT_BYTES = 2 * 1024**3


def check_file_size(path: str | os.PathLike[str], limit: int, what: str) -> int:
    """The size of ``path`` in bytes; raises ``ValueError`` when it exceeds ``limit``.

    Args:
        path: An existing file.
        limit: Largest accepted size in bytes.
        what: What the file is, for the message (e.g. ``"image file"``).
    """
    size = os.stat(path).st_size
    if size > limit:
        raise ValueError(
            f"{what} {os.fsdecode(os.fspath(path))!r} is {size} bytes, over the {limit}-byte limit "
            f"(starnet_trt.limits); no real {what} is that large"
        )
    return size


def image_dimensions(data: bytes | memoryview) -> tuple[int, int] | None:
    """``(width, height)`` declared by the header of an encoded PNG, JPEG, BMP, GIF, WebP, TIFF or PNM image;
    ``None`` for other formats or a header too short to tell (OpenCV then decodes it under its own limits)."""
    head = bytes(data[: 64 * 1024])
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"\xff\xd8"):
            return _jpeg_dimensions(head)
        if head.startswith(b"BM"):
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", head[6:10])
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_dimensions(head)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_dimensions(head)
        if head[:1] == b"P" and head[1:2] in b"123456" and len(head) > 2:
            fields = head[2:].split(maxsplit=3)  # (comments in PNM headers are rare in word crops; None if met)
            if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
                return int(fields[0]), int(fields[1])
    except struct.error:
        return None
    return None


def _jpeg_dimensions(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame: P, Y, X
            h, w = struct.unpack(">HH", head[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def _webp_dimensions(head: bytes) -> tuple[int, int] | None:
    if len(head) < 30:
        return None
    kind = head[12:16]
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _tiff_dimensions(head: bytes) -> tuple[int, int] | None:
    order = "<" if head[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", head[4:8])
    (count,) = struct.unpack(order + "H", head[offset : offset + 2])
    found: dict[int, int] = {}
    for k in range(count):
        entry = head[offset + 2 + 12 * k : offset + 14 + 12 * k]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):  # ImageWidth, ImageLength (SHORT or LONG)
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8 : 10 if kind == 3 else 12])[0]
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


def check_image_header(data: bytes | memoryview, name: str) -> None:
    """Raise ``ValueError`` when the encoded image ``data`` declares more than :data:`MAX_IMAGE_PIXELS` pixels."""
    dims = image_dimensions(data)
    if dims is not None and dims[0] * dims[1] > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"{name} declares {dims[0]}x{dims[1]} pixels, over the {MAX_IMAGE_PIXELS}-pixel limit "
            "(starnet_trt.limits.MAX_IMAGE_PIXELS): refused before decoding"
        )
