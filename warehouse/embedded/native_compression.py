"""Request bodies in ClickHouse's own block compression (`decompress=1`), as a server reads them.

Each block is a 16-byte CityHash128 checksum, a method byte (0x02 none, 0x82 LZ4, 0x90 ZSTD),
the compressed size (header included) and the decompressed size (both UInt32 little-endian),
then the payload. The checksum is not verified here: no CityHash128 library is installed (the
lz4/zstd frame checks still catch corrupt payloads). A block may not claim more than
`MAX_BLOCK_BYTES`, so a forged size cannot make the endpoint allocate a GiB.
"""

from __future__ import annotations

import struct

import lz4.block
import zstandard

from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.request_limits import Readable

MAX_BLOCK_BYTES = 64 << 20
_HEADER = struct.Struct("<BII")  # method, compressed size (with this 9-byte header), size
_CHECKSUM_BYTES = 16


class NativeBlockReader:
    """A file-like reader of the decompressed bytes of a block-compressed body."""

    def __init__(self, raw: Readable):
        self._raw = raw
        self._pending = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        if not self._pending and not self._next_block():
            return b""
        size = len(self._pending) if size is None or size < 0 else size
        out, self._pending = self._pending[:size], self._pending[size:]
        return bytes(out)

    def _next_block(self) -> bool:
        head = self._exactly(_CHECKSUM_BYTES + _HEADER.size, allow_eof=True)
        if not head:
            return False
        method, compressed, size = _HEADER.unpack_from(head, _CHECKSUM_BYTES)
        if compressed < _HEADER.size or compressed - _HEADER.size > MAX_BLOCK_BYTES:
            raise ClickHouseError(
                39, "TOO_LARGE_SIZE_COMPRESSED", f"Too large size_compressed: {compressed}"
            )
        if size > MAX_BLOCK_BYTES:
            raise ClickHouseError(
                39,
                "TOO_LARGE_SIZE_COMPRESSED",
                f"A compressed block claims {size} bytes; the endpoint takes blocks of up to "
                f"{MAX_BLOCK_BYTES} bytes (clients send 1 MiB blocks)",
            )
        payload = self._exactly(compressed - _HEADER.size)
        try:
            if method == 0x02:
                data = payload
            elif method == 0x82:
                data = lz4.block.decompress(payload, uncompressed_size=size)
            elif method == 0x90:
                data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=size)
            else:
                raise ClickHouseError(
                    89,
                    "UNKNOWN_COMPRESSION_METHOD",
                    f"Unknown compression method 0x{method:02x} in a decompress=1 body; "
                    "send LZ4 (0x82), ZSTD (0x90) or none (0x02)",
                )
        except (lz4.block.LZ4BlockError, zstandard.ZstdError) as exc:
            raise ClickHouseError(
                271, "CANNOT_DECOMPRESS", f"Cannot decompress a block of the body: {exc}"
            ) from None
        if len(data) != size:
            raise ClickHouseError(
                271,
                "CANNOT_DECOMPRESS",
                f"A block decompressed to {len(data)} bytes, its header says {size}",
            )
        self._pending = memoryview(data)
        return True

    def _exactly(self, n: int, allow_eof: bool = False) -> bytes:
        parts, got = [], 0
        while got < n:
            chunk = self._raw.read(n - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        if got == 0 and allow_eof:
            return b""
        if got < n:
            raise ClickHouseError(
                271, "CANNOT_DECOMPRESS", "The body ends inside a compressed block"
            )
        return b"".join(parts)
