"""PHP-style request parameters (`filter[updated_at][from]=1`, `select[]=*`) as nested dicts.

amoCRM and Bitrix24 are PHP services: their query strings and form bodies nest with square
brackets, and `batch` sub-requests arrive as such query strings inside a JSON body.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)$")


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Nested dicts; `[]` appends to a list; numeric keys stay dict keys ("0", "1")."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        m = _KEY.match(key)
        if not m:
            out[key] = value
            continue
        parts = [m.group(1), *re.findall(r"\[([^\]]*)\]", m.group(2))]
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                if not isinstance(node, list):
                    break
                if last:
                    node.append(value)
                else:
                    node.append({})
                    node = node[-1]
                continue
            if last:
                if isinstance(node, dict):
                    node[part] = value
                break
            nxt_list = parts[i + 1] == ""
            if not isinstance(node, dict):
                break
            if part not in node or not isinstance(node[part], (dict, list)):
                node[part] = [] if nxt_list else {}
            node = node[part]
    return out


def as_list(value: Any) -> list[Any]:
    """A scalar, a list, or a {"0": .., "1": ..} dict as a list of values."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, str) and "," in value:
        return [v for v in value.split(",") if v != ""]
    return [value]
