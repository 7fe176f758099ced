"""Read and write IDX files, the container format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the array in C order with
big-endian elements. Files whose name ends in ``.gz`` are gzip-compressed.

The reader checks every part of the header and that the payload holds exactly as
many bytes as the header promises, so a truncated download fails loudly instead of
yielding a short or misshaped array. The writer is deterministic (fixed gzip header:
no file name, mtime 0), so rebuilding a data file gives byte-identical output.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDX_TYPES", "idx_magic", "read_idx", "write_idx"]

#: IDX type code -> big-endian element dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_LEVEL = 9


def _type_code(dtype: np.dtype) -> int | None:
    """IDX type code for ``dtype`` (any byte order), or None if IDX cannot store it."""
    for code, idx_dtype in IDX_TYPES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    return None


def idx_magic(array: np.ndarray) -> int:
    """The IDX magic number an array would be written with (e.g. 2051 for uint8 3-D)."""
    code = _type_code(array.dtype)
    if code is None:
        raise TypeError(f"dtype {array.dtype} has no IDX type code; supported: {_supported()}")
    return (code << 8) | array.ndim


def _supported() -> str:
    return ", ".join(str(np.dtype(d.str[1:])) for d in IDX_TYPES.values())


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(2, f"IDX file not found: {path}", str(path))
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a valid gzip file ({exc})") from exc


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed if its name ends in ``.gz``) into a NumPy array.

    The result is a new, writable array in native byte order with the header's shape.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message names it).
        ValueError: bad gzip stream, bad magic number or type code, or a payload that
            is shorter or longer than the header's shape requires (the message names
            the file and what was expected).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: {len(data)} bytes is too short for an IDX magic number")
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        hint = " (it looks gzip-compressed: name it *.gz)" if data[:2] == _GZIP_MAGIC else ""
        raise ValueError(
            f"{path}: bad IDX magic {data[:4].hex()}: expected two zero bytes, "
            f"a type code and ndim{hint}"
        )
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(
            f"{path}: truncated header: {ndim} dimensions need {header_len} bytes, "
            f"file has {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        kind = "truncated" if actual < expected else "oversized"
        raise ValueError(
            f"{path}: {kind} payload: header shape {shape} of {dtype.str[1:]} needs "
            f"{expected} bytes after the header, found {actual}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _gzip_member(payload: bytes) -> bytes:
    """One gzip member with a fixed header: no file name, mtime 0, OS 'unknown'."""
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(payload) + compressor.flush()
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)
    return header + body + trailer


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file; gzip it (deterministically) if the name ends in ``.gz``.

    The same array always gives the same bytes (for a given zlib): the gzip header has
    no file name and mtime 0, and deflate runs at level 9.

    Raises:
        TypeError: the dtype has no IDX type code (uint8, int8, int16, int32, float32,
            float64 are supported).
        ValueError: more than 255 dimensions or a dimension of 2**32 or more.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _type_code(array.dtype)
    if code is None:
        raise TypeError(
            f"{path}: cannot write dtype {array.dtype} as IDX; supported: {_supported()}"
        )
    if array.ndim > 255 or any(n >= 2**32 for n in array.shape):
        raise ValueError(
            f"{path}: IDX allows at most 255 dimensions each < 2**32, got shape {array.shape}"
        )
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    path.write_bytes(_gzip_member(payload) if path.suffix == ".gz" else payload)
