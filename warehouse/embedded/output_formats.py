"""What the endpoint must know about an output format: its Content-Type as a server names it,
and whether its result can be streamed chunk by chunk.

chDB's streaming API hands out data chunks only: totals (`WITH TOTALS`, `extremes`) and a JSON
document's `totals` and `statistics` come only with a whole result, so those queries run to the
end before answering (as with wait_end_of_query=1). The ...WithProgress formats stream: each
chunk repeats the `meta` row, which is sent once, and the closing `progress` row is written from
the stream's statistics (chDB reports no progress per block, so there is one such row, and its
`total_rows_to_read` is the rows read).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable

from funnelhouse.warehouse.embedded.sql_text import tokens

_WHOLE_RESULT_FORMATS = frozenset(
    {"json", "jsonstrings", "jsoncompact", "jsoncompactstrings", "jsoncolumnswithmetadata", "xml"}
)
WITH_PROGRESS_FORMATS = frozenset(
    {"jsoneachrowwithprogress", "jsonstringseachrowwithprogress",
     "jsoncompacteachrowwithprogress", "jsoncompactstringseachrowwithprogress"}
)  # fmt: skip
_NDJSON_PREFIXES = (
    "jsoneachrow", "jsonstringseachrow", "jsoncompacteachrow", "jsoncompactstringseachrow",
    "jsonlines", "ndjson", "jsonobjecteachrow",
)  # fmt: skip


def content_type(fmt: str) -> str:
    f = fmt.lower()
    if f.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        header = "present" if "withnames" in f else "absent"
        return f"text/csv; charset=UTF-8; header={header}"
    if f.startswith(_NDJSON_PREFIXES):
        return "application/x-ndjson; charset=UTF-8"
    if f.startswith("json"):
        return "application/json; charset=UTF-8"
    if f == "xml":
        return "application/xml; charset=UTF-8"
    if f.startswith(("native", "rowbinary", "parquet", "arrow", "orc", "avro", "msgpack")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


class ProgressRows:
    """A streamed ...WithProgress result: `meta` once, the chunks' rows, a closing `progress`."""

    def __init__(self, read: Callable[[], tuple[int, int]]):
        self._read = read  # (rows, bytes) the query has read so far
        self._started = time.perf_counter()
        self._meta_sent = False

    def feed(self, chunk: bytes) -> bytes:
        if chunk.startswith(b'{"meta"'):
            if self._meta_sent:
                chunk = chunk[chunk.find(b"\n") + 1 :]
            self._meta_sent = True
        return chunk

    def finish(self) -> bytes:
        rows, size = self._read()
        elapsed_ns = int((time.perf_counter() - self._started) * 1e9)
        progress = {"read_rows": str(rows), "read_bytes": str(size),
                    "total_rows_to_read": str(rows), "elapsed_ns": str(elapsed_ns)}  # fmt: skip
        return json.dumps({"progress": progress}, separators=(",", ":")).encode() + b"\n"


def needs_whole_result(fmt: str, sql: bytes, settings: dict[str, str]) -> bool:
    """Whether the response needs what only a finished query reports (totals, extremes,
    statistics)."""
    if fmt.lower() in _WHOLE_RESULT_FORMATS or fmt.lower().startswith("pretty"):
        return True
    if settings.get("extremes", "0") not in ("0", "false", ""):
        return True
    words = (t for t in tokens(sql) if t.kind == "word")
    return any(
        a.text.upper() == b"WITH" and b.text.upper() == b"TOTALS"
        for a, b in itertools.pairwise(words)
    )
