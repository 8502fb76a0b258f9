"""Request bodies sent with a Content-Encoding, decoded in bounded reads as a server does.

Every reader inflates at most what one `read` asks for, so a compression bomb cannot grow
memory; a corrupt body fails with the error a server gives for its codec (ZLIB_INFLATE_FAILED,
ZSTD_DECODER_FAILED, LZ4_DECODER_FAILED), answered 400, instead of a Python exception.
"""

from __future__ import annotations

import gzip
import zlib
from typing import IO

import lz4.frame
import zstandard

from funnelhouse.warehouse.embedded.errors import ClickHouseError

_DEFAULT_READ = 4 << 20
_INFLATE_INPUT = 64 << 10
_CODEC_ERRORS = {
    "gzip": (354, "ZLIB_INFLATE_FAILED"),
    "deflate": (354, "ZLIB_INFLATE_FAILED"),
    "zstd": (561, "ZSTD_DECODER_FAILED"),
    "lz4": (618, "LZ4_DECODER_FAILED"),
}


def decoded_body(environ: dict, encoding: str) -> IO[bytes]:
    raw = environ["wsgi.input"]
    if not encoding or encoding == "identity":
        return raw
    reader: IO[bytes]
    if encoding == "gzip":
        reader = gzip.GzipFile(fileobj=raw, mode="rb")
    elif encoding == "lz4":
        reader = lz4.frame.LZ4FrameFile(raw, mode="rb")
    elif encoding == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    elif encoding == "deflate":
        reader = _InflateReader(raw)  # type: ignore[assignment]
    else:
        raise ClickHouseError(
            89,
            "UNKNOWN_COMPRESSION_METHOD",
            f"Unknown Content-Encoding of HTTP request: {encoding}; send gzip, deflate, zstd, "
            "lz4 or none",
        )
    return _CodecErrors(reader, encoding)  # type: ignore[return-value]


class _CodecErrors:
    """Turns a decoder's failure on a corrupt or cut body into the server's exception."""

    def __init__(self, reader: IO[bytes], encoding: str):
        self._reader = reader
        self._encoding = encoding

    def read(self, size: int = -1) -> bytes:
        try:
            return self._reader.read(size)
        except (OSError, EOFError, RuntimeError, zlib.error, zstandard.ZstdError) as exc:
            code, name = _CODEC_ERRORS[self._encoding]
            raise ClickHouseError(
                code,
                name,
                f"Cannot decode the {self._encoding} request body ({type(exc).__name__}: "
                f"{exc}); check the body and its Content-Encoding",
            ) from None


class _InflateReader:
    """Inflates at most `size` bytes a call, so a deflate bomb cannot grow memory."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self._inflate = zlib.decompressobj()

    def read(self, size: int = -1) -> bytes:
        size = _DEFAULT_READ if size is None or size < 0 else size
        while True:
            pending = self._inflate.unconsumed_tail
            if pending:
                out = self._inflate.decompress(pending, size)
            else:
                chunk = self._raw.read(_INFLATE_INPUT)
                if not chunk:
                    return self._inflate.flush()[:size]
                out = self._inflate.decompress(chunk, size)
            if out:
                return out
