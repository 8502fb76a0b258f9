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


# Tracking-data fields every account has for UTM tags (field_code UTM_*; only filled ones show).
CF_UTM = {
    "utm_source": (1_278_898_031, "UTM_SOURCE"),
    "utm_medium": (1_278_898_033, "UTM_MEDIUM"),
    "utm_campaign": (1_278_898_035, "UTM_CAMPAIGN"),
    "utm_content": (1_278_898_037, "UTM_CONTENT"),
    "utm_term": (1_278_898_039, "UTM_TERM"),
}


def tracking_field(key: str, value: str) -> dict:
    field_id, code = CF_UTM[key]
    return {
        "field_id": field_id,
        "field_name": key,
        "field_code": code,
        "field_type": "tracking_data",
        "values": [{"value": value}],
    }
