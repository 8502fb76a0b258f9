"""multipart/form-data request bodies, read as a ClickHouse server reads them.

Clients send the query and its parameters as form fields (clickhouse-connect with
`form_encode_query_params`, HTML forms) and external tables as file parts. A server adds the
fields to the URL parameters (a URL parameter wins) and loads each file part into a temporary
table named after the part, described by the `<name>_format`, `<name>_structure` or
`<name>_types` parameters. The body is bounded by the per-request data cap before parsing.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass, field
from typing import IO

from funnelhouse.warehouse.embedded.errors import ClickHouseError

_READ_CHUNK = 4 << 20


@dataclass
class FormData:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # part name -> content


def is_form_data(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "multipart/form-data"


def read_form_data(body: IO[bytes], content_type: str) -> FormData:
    """Parse the whole (size-capped) body; the reader raises once it passes the cap."""
    chunks = []
    while chunk := body.read(_READ_CHUNK):
        chunks.append(chunk)
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + b"".join(chunks))
    if not message.is_multipart():
        raise ClickHouseError(
            36, "BAD_ARGUMENTS", "Malformed multipart/form-data body: no boundary or no parts"
        )
    form = FormData()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise ClickHouseError(
                36, "BAD_ARGUMENTS", "A multipart/form-data part has no name in its disposition"
            )
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None:
            form.files[name] = data
        else:
            form.fields.setdefault(name, data.decode("utf-8", "replace"))
    return form
