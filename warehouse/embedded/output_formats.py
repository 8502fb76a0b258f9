"""What the endpoint must know about an output format: its Content-Type as a server names it,
and whether its result can be streamed chunk by chunk.

chDB's streaming API hands out data chunks only: totals (`WITH TOTALS`), a JSON document's
`totals` and `statistics`, and the progress rows of the ...WithProgress formats come only with a
whole result, so those queries run to the end before answering (as with wait_end_of_query=1).
"""

from __future__ import annotations

import itertools

from funnelhouse.warehouse.embedded.sql_text import tokens

_WHOLE_RESULT_FORMATS = frozenset(
    {"json", "jsonstrings", "jsoncompact", "jsoncompactstrings", "jsoncolumnswithmetadata",
     "xml", "jsoneachrowwithprogress", "jsonstringseachrowwithprogress",
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


def needs_whole_result(fmt: str, sql: bytes) -> bool:
    """Whether the response needs what only a finished query reports (totals, statistics,
    progress)."""
    if fmt.lower() in _WHOLE_RESULT_FORMATS or fmt.lower().startswith("pretty"):
        return True
    words = (t for t in tokens(sql) if t.kind == "word")
    return any(
        a.text.upper() == b"WITH" and b.text.upper() == b"TOTALS"
        for a, b in itertools.pairwise(words)
    )
