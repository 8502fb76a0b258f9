"""One Arrow IPC stream out of chDB's streamed ArrowStream chunks.

chDB writes each streamed chunk of an ArrowStream result as a complete IPC stream (schema,
batch, end-of-stream), so a client reading the concatenation stops after the first batch; a
server sends one stream with a record batch per block. The joiner re-frames the batches
(zero-copy) under a single schema, with one end-of-stream marker at the end.
"""

from __future__ import annotations

import io

import pyarrow as pa


class ArrowStreamJoiner:
    def __init__(self) -> None:
        self._sink = io.BytesIO()
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to send for one chDB chunk (its batches, after the schema once)."""
        if not chunk:
            return b""
        reader = pa.ipc.open_stream(chunk)
        if self._writer is None:
            self._writer = pa.ipc.new_stream(self._sink, reader.schema)
        for batch in reader:
            self._writer.write_batch(batch)
        return self._take()

    def finish(self) -> bytes:
        """The end-of-stream marker (nothing if no chunk came)."""
        if self._writer is None:
            return b""
        self._writer.close()
        return self._take()

    def _take(self) -> bytes:
        data = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        return data
