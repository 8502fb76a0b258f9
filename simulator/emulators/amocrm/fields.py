"""Custom fields of this amoCRM account: their ids and the select-field value shape."""

from __future__ import annotations

CF_SOURCE, CF_PROJECT, CF_RATING, CF_PHONE, CF_EMAIL, CF_INN = (
    1_278_898_021,
    1_278_898_023,
    1_278_898_025,
    264_911,
    264_913,
    264_917,
)


def select_field(field_id: int, name: str, value: str, enum_id: int) -> dict:
    return {
        "field_id": field_id,
        "field_name": name,
        "field_code": None,
        "field_type": "select",
        "values": [{"value": value, "enum_id": enum_id}],
    }
