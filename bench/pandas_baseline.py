"""The analyst's way: two marts in plain pandas, straight from the raw API exports.

`compute()` reads the JSON-lines files the simulator's exporter writes
(`<dir>/<source>/<stream>.jsonl`, one record per line as the API returned it) and builds
`conversion_cohort` and `call_load_by_stage` with the definitions of the dbt project (staging,
intermediate and mart SQL, dbt_project.yml vars), so that both must agree row for row.
`compare()` checks that against the warehouse.

    python -m bench.pandas_baseline EXPORT_DIR OUT_DIR   # writes OUT_DIR/<mart>.parquet

The JSON helpers below mirror ClickHouse's JSONExtract* functions on the value types that
occur, because that is what "the same definition" means for a retyped or missing field.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# dbt_project.yml vars
TZ = "Europe/Moscow"  # business_timezone, uis_timezone
MATURITY_DAYS = 180
HORIZONS = (7, 30, 60, 90)
AMO_FIELDS = {"source": "Источник", "project": "Проект", "rating": "Рейтинг клиента"}
B24_FIELDS = {"project": "UF_CRM_PROJECT", "rating": "UF_CRM_RATING"}
# UIS employee id → CRM user id, for names that differ beyond word order, case and ё.
MANAGER_ALIASES: dict[str, str] = {}
SEGMENTS = ("manager", "source", "project", "rating", "pipeline")
# The call marts slice by the call's owner (manager) and by its deal's manager as well.
CALL_SEGMENTS = ("manager", "deal_manager", "source", "project", "rating", "pipeline")
GRAINS = ("day", "week", "month")
KEYS = {
    "conversion_cohort": ["cohort_grain", "cohort_start", "segment_type", "segment_value"],
    "call_load_by_stage": [
        "period_grain", "period_start", "pipeline", "stage", "segment_type", "segment_value",
    ],
}  # fmt: skip
EPOCH = pd.Timestamp(0, tz="UTC")  # assumeNotNull() of a NULL DateTime64
CHUNK = 100_000  # records per frame while reading
# The columns both CRMs' staging models give a deal (stg_amocrm__leads, stg_bitrix24__deals).
DEAL_COLUMNS = ["deal_id", "created_at", "closed_at", "stage_key", "manager_id", "source",
                "project", "rating", "is_deleted"]  # fmt: skip


# -- reading ---------------------------------------------------------------------------------


def _records(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read(
    path: Path,
    id_key: str,
    columns: dict[str, Callable[[dict], Any]],
    where: Callable[[dict], bool] | None = None,
    deleted: Callable[[dict], Any] | None = None,
) -> pd.DataFrame:
    """The columns extracted from each record, one row per record id (the last one wins, as
    in the raw layer). `where` filters records, `deleted` flags them (the raw _is_deleted)."""

    def empty() -> dict[str, list]:
        return {"_id": [], "_is_deleted": [], **{k: [] for k in columns}}

    # Python objects are bulky: turn every CHUNK records into a (columnar) frame.
    chunks, cols = [], empty()
    for r in _records(path):
        if where is not None and not where(r):
            continue
        rid = r.get(id_key)
        cols["_id"].append("" if rid is None else str(rid))
        cols["_is_deleted"].append(bool(deleted(r)) if deleted else False)
        for name, get in columns.items():
            cols[name].append(get(r))
        if len(cols["_id"]) == CHUNK:
            chunks.append(pd.DataFrame(cols))
            cols = empty()
    df = pd.concat([*chunks, pd.DataFrame(cols)], ignore_index=True)
    return df.drop_duplicates("_id", keep="last", ignore_index=True)


def js(v: Any) -> str:
    """JSONExtractString: strings as they are, other scalars as JSON text, null as ''."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def ju(v: Any) -> int:
    """JSONExtractUInt: a non-negative number (or numeric string), truncated; else 0."""
    if isinstance(v, str):
        return int(v.split(".")[0]) if re.fullmatch(r"\d+(\.\d*)?", v) else 0
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        return 0
    return int(v)


def jint(v: Any) -> int | None:
    """The json_int macro: an integer or an integer string, else NULL."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else None
    if isinstance(v, str) and re.fullmatch(r"[+-]?\d+", v):
        return int(v)
    return None


def unix(v: Any) -> int | None:
    """The from_unix macro: unix seconds > 0, else NULL."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def jbool(v: Any) -> bool:
    return v is True or (isinstance(v, int) and not isinstance(v, bool) and v != 0)


def dig(r: Any, *path: str | int) -> Any:
    for p in path:
        if isinstance(p, int):
            r = r[p] if isinstance(r, list) and len(r) > p else None
        else:
            r = r.get(p) if isinstance(r, dict) else None
    return r


def array(v: Any) -> list:
    return v if isinstance(v, list) else []


def phone(v: str) -> str:
    """The normalize_phone macro: 7 + the last ten digits, '' when not a phone."""
    digits = re.sub(r"[^0-9]", "", v)
    return "7" + digits[-10:] if len(digits) >= 10 else ""


def amo_field(r: dict, name: str) -> str:
    """The amocrm_field macro: the first value of the first custom field of that name."""
    for f in array(r.get("custom_fields_values")):
        if js(dig(f, "field_name")) == name:
            return js(dig(f, "values", 0, "value"))
    return ""


def amo_field_values(r: dict, code: str) -> list[str]:
    return [
        js(dig(v, "value"))
        for f in array(r.get("custom_fields_values"))
        if js(dig(f, "field_code")) == code
        for v in array(dig(f, "values"))
    ]


def utc_from_unix(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.astype("Int64"), unit="s", utc=True).astype("datetime64[ns, UTC]")


def utc_from_text(s: pd.Series, tz: str | None = None) -> pd.Series:
    """ISO 8601 with an offset, or local time without one in `tz` (the from_iso /
    from_local macros); unparseable or empty → NaT."""
    if tz is None:
        out = pd.to_datetime(s.replace("", None), utc=True, format="ISO8601", errors="coerce")
    else:
        out = pd.to_datetime(s.replace("", None), format="ISO8601", errors="coerce")
        out = out.dt.tz_localize(tz).dt.tz_convert("UTC")
    return out.astype("datetime64[ns, UTC]")


# -- staging ---------------------------------------------------------------------------------


def amocrm(d: Path) -> dict[str, pd.DataFrame]:
    def lead_columns() -> dict[str, Callable[[dict], Any]]:
        return {
            "created_at": lambda r: unix(r.get("created_at")),
            "closed_at": lambda r: unix(r.get("closed_at")),
            "stage_key": lambda r: f"amocrm:{ju(r.get('pipeline_id'))}:{ju(r.get('status_id'))}",
            "manager_id": lambda r: f"amocrm:{ju(r.get('responsible_user_id'))}",
            **{k: (lambda r, n=n: amo_field(r, n)) for k, n in AMO_FIELDS.items()},
            "company_id": lambda r: (
                f"amocrm:{ju(dig(r, '_embedded', 'companies', 0, 'id'))}"
                if array(dig(r, "_embedded", "companies"))
                else ""
            ),
            "contact_ids": lambda r: [
                f"amocrm:{ju(dig(c, 'id'))}" for c in array(dig(r, "_embedded", "contacts"))
            ],
            "payload_deleted": lambda r: jbool(r.get("is_deleted")),
        }

    # The connector flags every amoCRM record by its is_deleted; deleted leads come from the
    # only_deleted view after the live ones.
    flag = lambda r: r.get("is_deleted")  # noqa: E731
    leads = pd.concat(
        [
            read(d / "leads.jsonl", "id", lead_columns(), deleted=flag),
            read(d / "leads_deleted.jsonl", "id", lead_columns(), deleted=lambda r: True),
        ],
        ignore_index=True,
    ).drop_duplicates("_id", keep="last", ignore_index=True)
    leads["deal_id"] = "amocrm:" + leads["_id"]
    leads["created_at"] = utc_from_unix(leads["created_at"]).fillna(EPOCH)
    leads["closed_at"] = utc_from_unix(leads["closed_at"])
    leads["is_deleted"] = leads["_is_deleted"] | leads["payload_deleted"]

    pipelines = read(
        d / "pipelines.jsonl",
        "id",
        {
            "pipeline_id": lambda r: ju(r.get("id")),
            "pipeline_name": lambda r: js(r.get("name")),
            "statuses": lambda r: array(dig(r, "_embedded", "statuses")),
        },
        deleted=flag,
    )
    pipelines = pipelines[~pipelines["_is_deleted"]].explode("statuses").dropna(subset="statuses")
    status = pipelines["statuses"]
    status_id = status.map(lambda s: ju(dig(s, "id")))
    stages = pd.DataFrame(
        {
            "stage_key": "amocrm:"
            + pipelines["pipeline_id"].astype(str)
            + ":"
            + status_id.astype(str),
            "pipeline_name": pipelines["pipeline_name"],
            "stage_name": status.map(lambda s: js(dig(s, "name"))),
            "stage_kind": np.select(
                [
                    status_id == 142,
                    status_id == 143,
                    status.map(lambda s: jint(dig(s, "type")) == 1),
                ],
                ["won", "lost", "unsorted"],
                "open",
            ),
        }
    )

    events = read(
        d / "events.jsonl",
        "id",
        {
            "deal_id": lambda r: f"amocrm:{ju(r.get('entity_id'))}",
            "changed_at": lambda r: unix(r.get("created_at")),
            "stage_key_before": lambda r: "amocrm:{}:{}".format(
                ju(dig(r, "value_before", 0, "lead_status", "pipeline_id")),
                ju(dig(r, "value_before", 0, "lead_status", "id")),
            ),
            "stage_key_after": lambda r: "amocrm:{}:{}".format(
                ju(dig(r, "value_after", 0, "lead_status", "pipeline_id")),
                ju(dig(r, "value_after", 0, "lead_status", "id")),
            ),
        },
        where=lambda r: (
            js(r.get("type")) == "lead_status_changed"
            and js(r.get("entity_type")) in ("lead", "leads")
        ),
    )
    events["changed_at"] = utc_from_unix(events["changed_at"]).fillna(EPOCH)
    events = events.rename(columns={"_id": "event_id"})

    notes = read(
        d / "call_notes.jsonl",
        "id",
        {
            "telephony_call_id": lambda r: js(dig(r, "params", "uniq")),
            "deal_id": lambda r: f"amocrm:{ju(r.get('entity_id'))}",
        },
        deleted=flag,
    )
    call_links = notes.loc[~notes["_is_deleted"], ["telephony_call_id", "deal_id"]]

    users = read(d / "users.jsonl", "id", {"manager_name": lambda r: js(r.get("name"))})
    users["manager_id"] = "amocrm:" + users["_id"]

    contacts = read(
        d / "contacts.jsonl",
        "id",
        {"phones": lambda r: [p for p in map(phone, amo_field_values(r, "PHONE")) if p]},
        deleted=flag,
    )
    contacts = contacts[~contacts["_is_deleted"]]
    contacts["contact_id"] = "amocrm:" + contacts["_id"]
    companies = read(
        d / "companies.jsonl",
        "id",
        {"phones": lambda r: [phone(p) for p in amo_field_values(r, "PHONE")]},
        deleted=flag,
    )
    companies = companies[~companies["_is_deleted"]]
    companies["company_id"] = "amocrm:" + companies["_id"]

    # stg_amocrm__deal_phones: the phones of each lead's contacts and company.
    by_contact = leads[["deal_id", "contact_ids"]].assign(
        contact_id=leads["contact_ids"].map(lambda ids: ids or [""])
    )
    by_contact = by_contact.explode("contact_id").merge(contacts, on="contact_id")
    by_company = leads[["deal_id", "company_id"]].merge(companies, on="company_id")
    deal_phones = (
        pd.concat([by_contact[["deal_id", "phones"]], by_company[["deal_id", "phones"]]])
        .explode("phones")
        .dropna(subset="phones")
        .rename(columns={"phones": "phone"})
        .drop_duplicates()
    )

    # The stage history's entries: the initial stage at creation (the stage before the first
    # change, or the current one), then every change; `ord` orders entries at one instant.
    first = events.sort_values(["deal_id", "changed_at", "event_id"]).drop_duplicates("deal_id")
    first = first.set_index("deal_id")["stage_key_before"]
    initial = leads["deal_id"].map(first).fillna("")
    entries = pd.concat(
        [
            pd.DataFrame(
                {
                    "deal_id": leads["deal_id"],
                    "entered_at": leads["created_at"],
                    "stage_key": initial.where(initial != "", leads["stage_key"]),
                    "ord": "",
                }
            ),
            events[["deal_id", "changed_at", "stage_key_after", "event_id"]].set_axis(
                ["deal_id", "entered_at", "stage_key", "ord"], axis=1
            ),
        ],
        ignore_index=True,
    )
    tasks = read(
        d / "tasks.jsonl",
        "id",
        {"created_at": lambda r: unix(r.get("created_at"))},
        deleted=lambda r: jbool(r.get("is_deleted")),
    )
    tasks = tasks[~tasks["_is_deleted"]]
    return {
        "deals": leads,
        "stages": stages,
        "entries": entries,
        "call_links": call_links,
        "users": users[["manager_id", "manager_name"]],
        "deal_phones": deal_phones,
        "last_touch": utc_from_unix(tasks["created_at"]).max(),
    }


def bitrix24(d: Path) -> dict[str, pd.DataFrame]:
    statuses = read(
        d / "stages.jsonl",
        "ID",
        {
            "entity_id": lambda r: js(r.get("ENTITY_ID")),
            "status_id": lambda r: js(r.get("STATUS_ID")),
            "name": lambda r: js(r.get("NAME")),
            "semantics": lambda r: js(r.get("SEMANTICS")),
            "extra_semantics": lambda r: js(dig(r, "EXTRA", "SEMANTICS")),
        },
    )
    categories = read(
        d / "categories.jsonl",
        "id",
        {"category_id": lambda r: str(jint(r.get("id")) or 0), "name": lambda r: js(r.get("name"))},
    )
    st = statuses[statuses["entity_id"].str.startswith("DEAL_STAGE")]
    pipeline_id = st["entity_id"].where(st["entity_id"] != "DEAL_STAGE", "DEAL_STAGE_0")
    pipeline_id = pipeline_id.str.replace("DEAL_STAGE_", "", n=1, regex=False)
    category = pipeline_id.map(categories.set_index("category_id")["name"]).fillna("")
    semantics, extra = st["semantics"], st["extra_semantics"]
    stages = pd.DataFrame(
        {
            "stage_key": "bitrix24:" + st["status_id"],
            "pipeline_name": category.where(category != "", "funnel " + pipeline_id),
            "stage_name": st["name"],
            "stage_kind": np.select(
                [
                    (semantics == "S") | (extra == "success"),
                    (semantics == "F") | extra.isin(["failure", "apology"]),
                ],
                ["won", "lost"],
                "open",
            ),
        }
    )

    deals = read(
        d / "deals.jsonl",
        "ID",
        {
            "created_at": lambda r: js(r.get("DATE_CREATE")),
            "stage_key": lambda r: "bitrix24:" + js(r.get("STAGE_ID")),
            "manager_id": lambda r: "bitrix24:" + js(r.get("ASSIGNED_BY_ID")),
            "source_id": lambda r: js(r.get("SOURCE_ID")),
            **{k: (lambda r, f=f: js(r.get(f))) for k, f in B24_FIELDS.items()},
            "company_id": lambda r: js(r.get("COMPANY_ID")),
            "contact_id": lambda r: js(r.get("CONTACT_ID")),
        },
    )
    deals["deal_id"] = "bitrix24:" + deals["_id"]
    deals["created_at"] = utc_from_text(deals["created_at"]).fillna(EPOCH)
    deals["closed_at"] = pd.Series(pd.NaT, index=deals.index, dtype="datetime64[ns, UTC]")
    sources = statuses[statuses["entity_id"] == "SOURCE"].set_index("status_id")["name"]
    source = deals["source_id"].map(sources).fillna("")
    deals["source"] = source.where(source != "", deals["source_id"])
    for col, prefix in (("company_id", "bitrix24:company:"), ("contact_id", "bitrix24:contact:")):
        is_set = deals[col].str.fullmatch(r"\d+") & (deals[col].str.strip("0") != "")
        deals[col] = (prefix + deals[col]).where(is_set, "")
    deals["is_deleted"] = deals["_is_deleted"]

    history = read(
        d / "stage_history.jsonl",
        "ID",
        {
            "event_id": lambda r: ju(r.get("ID")),
            "type_id": lambda r: ju(r.get("TYPE_ID")) % 256,
            "deal_id": lambda r: f"bitrix24:{ju(r.get('OWNER_ID'))}",
            "changed_at": lambda r: js(r.get("CREATED_TIME")),
            "stage_key": lambda r: "bitrix24:" + js(r.get("STAGE_ID")),
        },
    )
    history["changed_at"] = utc_from_text(history["changed_at"]).fillna(EPOCH)
    created = history[history["type_id"] == 1].sort_values("event_id")
    first = created.drop_duplicates("deal_id").set_index("deal_id")["stage_key"]
    initial = deals["deal_id"].map(first).fillna("")
    moves = history[history["type_id"] != 1]
    entries = pd.concat(
        [
            pd.DataFrame(
                {
                    "deal_id": deals["deal_id"],
                    "entered_at": deals["created_at"],
                    "stage_key": initial.where(initial != "", deals["stage_key"]),
                    "ord": "",
                }
            ),
            pd.DataFrame(
                {
                    "deal_id": moves["deal_id"],
                    "entered_at": moves["changed_at"],
                    "stage_key": moves["stage_key"],
                    "ord": moves["event_id"].astype(str).str.zfill(20),
                }
            ),
        ],
        ignore_index=True,
    )

    # A call is tied to a deal through its CRM activity owned by the deal.
    calls = read(
        d / "calls.jsonl",
        "ID",
        {
            "telephony_call_id": lambda r: js(r.get("EXTERNAL_CALL_ID")) or js(r.get("CALL_ID")),
            "activity_id": lambda r: js(r.get("CRM_ACTIVITY_ID")),
        },
    )
    activities = read(
        d / "activities.jsonl",
        "ID",
        {
            "deal_id": lambda r: (
                "bitrix24:" + js(r.get("OWNER_ID")) if js(r.get("OWNER_TYPE_ID")) == "2" else ""
            ),
            "created": lambda r: js(r.get("CREATED")),
            "start": lambda r: js(r.get("START_TIME")),
        },
    )
    touched = utc_from_text(activities["created"]).fillna(utc_from_text(activities["start"]))
    activities = activities.rename(columns={"_id": "activity_id"})
    links = calls.merge(activities[activities["deal_id"] != ""], on="activity_id")

    users = read(
        d / "users.jsonl",
        "ID",
        {"manager_name": lambda r: f"{js(r.get('NAME'))} {js(r.get('LAST_NAME'))}".strip(" ")},
    )
    users["manager_id"] = "bitrix24:" + users["_id"]

    def phones(r: dict) -> list[str]:
        return [p for p in (phone(js(dig(v, "VALUE"))) for v in array(r.get("PHONE"))) if p]

    contacts = read(d / "contacts.jsonl", "ID", {"phones": phones})
    contacts["contact_id"] = "bitrix24:contact:" + contacts["_id"]
    companies = read(d / "companies.jsonl", "ID", {"phones": phones})
    companies["company_id"] = "bitrix24:company:" + companies["_id"]
    deal_phones = (
        pd.concat(
            [
                deals[["deal_id", "contact_id"]].merge(contacts, on="contact_id"),
                deals[["deal_id", "company_id"]].merge(companies, on="company_id"),
            ]
        )[["deal_id", "phones"]]
        .explode("phones")
        .dropna(subset="phones")
        .rename(columns={"phones": "phone"})
        .drop_duplicates()
    )
    return {
        "deals": deals,
        "stages": stages,
        "entries": entries,
        "call_links": links[["telephony_call_id", "deal_id"]],
        "users": users[["manager_id", "manager_name"]],
        "deal_phones": deal_phones,
        "last_touch": touched.max(),
    }


def uis_calls(d: Path) -> pd.DataFrame:
    def employee(r: dict) -> tuple[str, str]:
        """(id, name) of the first to answer, else the last to answer, else the first the call
        rang: both from the same place, chosen by whether that place has an id."""
        for who in ("first_answered_employee", "last_answered_employee"):
            if js(r.get(f"{who}_id")) != "":
                return js(r.get(f"{who}_id")), js(r.get(f"{who}_full_name"))
        first = dig(r, "employees", 0)
        return js(dig(first, "employee_id")), js(dig(first, "employee_full_name"))

    calls = read(
        d / "calls.jsonl",
        "id",
        {
            "started_at": lambda r: js(r.get("start_time")),
            "direction": lambda r: js(r.get("direction")),
            "talk_seconds": lambda r: jint(r.get("talk_duration")) or 0,
            "client_phone": lambda r: phone(js(r.get("contact_phone_number"))),
            "employee": employee,
        },
    )
    calls["employee_id"] = calls["employee"].str[0]
    calls["employee_name"] = calls["employee"].str[1]
    calls = calls.drop(columns="employee")
    calls["call_id"] = "uis:" + calls["_id"]
    calls["telephony_call_id"] = calls["_id"]
    calls["started_at"] = utc_from_text(calls["started_at"], TZ).fillna(EPOCH)
    calls["is_answered"] = calls["talk_seconds"] > 0
    return calls


# -- intermediate ----------------------------------------------------------------------------


def stage_intervals(
    entries: pd.DataFrame, deals: pd.DataFrame, stages: pd.DataFrame
) -> pd.DataFrame:
    """Half-open [valid_from, valid_to) per deal; entries before creation move to it, of several
    at one instant the last by event order wins."""
    e = entries.merge(deals[["deal_id", "created_at"]], on="deal_id")
    e["valid_from"] = e["entered_at"].where(e["entered_at"] > e["created_at"], e["created_at"])
    e = e.sort_values(["deal_id", "valid_from", "ord"]).drop_duplicates(
        ["deal_id", "valid_from"], keep="last"
    )
    e["valid_to"] = e.groupby("deal_id")["valid_from"].shift(-1)
    e = e.merge(stages, on="stage_key", how="left")
    e["pipeline"] = e["pipeline_name"].fillna("")
    e["stage_name"] = e["stage_name"].where(e["stage_name"].fillna("") != "", e["stage_key"])
    e["stage_kind"] = e["stage_kind"].where(e["stage_kind"].fillna("") != "", "unknown")
    return e[["deal_id", "stage_key", "pipeline", "stage_name", "stage_kind", "valid_from",
              "valid_to"]]  # fmt: skip


def name_key(names: pd.Series) -> pd.Series:
    """The name_key macro: a name's words, lower case, ё as е, sorted; so the PBX's
    'Степанов Иван' meets the CRM's 'Иван Степанов'. Computed once per distinct name."""
    unique = pd.Series(names.unique())
    words = (
        unique.str.replace("ё", "е", regex=False)
        .str.replace("Ё", "Е", regex=False)
        .str.lower()
        .str.split(r"[ \t\n\r\f\v]+", regex=True)  # splitByWhitespace: ASCII only
    )
    keys = words.map(lambda w: " ".join(sorted(x for x in w if x)))
    return names.map(pd.Series(keys.to_numpy(), index=unique.to_numpy()))


def int_managers(users: pd.DataFrame, calls: pd.DataFrame) -> pd.Series:
    """person_id → manager for telephony employees, so that a call's operator carries the
    CRM's name of that person (one person, one name in every mart): by MANAGER_ALIASES, else
    by name key (of several CRM users with one key, the least id), else the employee's own
    latest name, listed by the warehouse as unmatched; 'unknown' where that name is empty."""
    users = users.assign(name_key=name_key(users["manager_name"]))
    by_name = (
        users[users["name_key"] != ""]
        .sort_values("manager_id")
        .drop_duplicates("name_key")
        .set_index("name_key")["manager_name"]
    )
    named = calls[(calls["employee_id"] != "") | (calls["employee_name"] != "")]
    person_id = ("uis:" + named["employee_id"]).where(
        named["employee_id"] != "", "uis:name:" + named["employee_name"]
    )
    employees = (
        named.assign(person_id=person_id)
        .sort_values("started_at", kind="stable")
        .drop_duplicates("person_id", keep="last")
        .set_index("person_id")["employee_name"]
    )
    own = employees.replace("", "unknown")
    by_name_manager = name_key(employees).map(by_name)
    aliased = pd.Series({f"uis:{k}": v for k, v in MANAGER_ALIASES.items()}, dtype=object).reindex(
        employees.index
    )
    aliased = aliased.where(aliased.fillna("") != "")
    alias_manager = aliased.map(users.set_index("manager_id")["manager_name"]).fillna("")
    alias_manager = alias_manager.replace("", "unknown")
    return alias_manager.where(aliased.notna(), by_name_manager.fillna(own))


def int_deals(
    deals: pd.DataFrame, stages: pd.DataFrame, intervals: pd.DataFrame, users: pd.DataFrame
) -> pd.DataFrame:
    d = deals.merge(stages, on="stage_key", how="left").merge(users, on="manager_id", how="left")
    kind = d["stage_kind"].fillna("")
    won = intervals[intervals["stage_kind"] == "won"].groupby("deal_id")["valid_from"].min()
    final = intervals[intervals["valid_to"].isna() & intervals["stage_kind"].isin(["won", "lost"])]
    closed = final.drop_duplicates("deal_id").set_index("deal_id")["valid_from"]
    won_at, closed_at = d["deal_id"].map(won), d["deal_id"].map(closed)
    d["won_at"] = won_at.where(d["deal_id"].isin(won.index), d["closed_at"].where(kind == "won"))
    d["closed_at"] = closed_at.where(d["deal_id"].isin(closed.index), d["closed_at"]).where(
        kind.isin(["won", "lost"])
    )
    names = {"pipeline": "pipeline_name", "manager": "manager_name"}
    for col in SEGMENTS:
        d[col] = d[names.get(col, col)].fillna("").replace("", "unknown")
    return d[["deal_id", "created_at", "won_at", "closed_at", "is_deleted", *SEGMENTS]]


def int_calls(
    calls: pd.DataFrame,
    deals: pd.DataFrame,
    call_links: pd.DataFrame,
    deal_phones: pd.DataFrame,
    intervals: pd.DataFrame,
    operators: pd.Series,
) -> pd.DataFrame:
    """Every call attributed to a deal (the CRM's own link, else the phone to the deal open at
    call time, the newest if several) and to the deal's stage at the call's start, and owned by
    its operator (the employee conformed to a manager), else by its deal's manager.

    A link to a deleted deal does not count (the call falls back to the phone, which sees live
    deals only); a call without a deal has '(none)' for every deal attribute, so that "no deal"
    and "a deal without a source" stay apart."""
    live = deals.loc[~deals["is_deleted"], ["deal_id", "created_at", "closed_at"]]
    links = call_links[(call_links["telephony_call_id"] != "") & (call_links["deal_id"] != "")]
    links = links[links["deal_id"].isin(live["deal_id"])]
    by_link = links.groupby("telephony_call_id")["deal_id"].min()

    phones = deal_phones[deal_phones["phone"] != ""].merge(live, on="deal_id").drop_duplicates()
    m = calls[["call_id", "client_phone", "started_at"]].merge(
        phones, left_on="client_phone", right_on="phone"
    )
    m = m[
        (m["created_at"] <= m["started_at"])
        & (m["closed_at"].isna() | (m["started_at"] < m["closed_at"]))
    ]
    # The newest deal; among deals created in the same second, the greatest id.
    by_phone = m.sort_values(["call_id", "created_at", "deal_id"]).drop_duplicates(
        "call_id", keep="last"
    )
    by_phone = by_phone.set_index("call_id")["deal_id"]

    c = calls.copy()
    linked = c["telephony_call_id"].map(by_link)
    c["deal_id"] = linked.fillna(c["call_id"].map(by_phone))

    # The stage interval containing the call's start (none: the call is before the deal).
    c = c.sort_values("started_at")
    iv = intervals.rename(columns={"deal_id": "interval_deal_id"}).sort_values("valid_from")
    c = pd.merge_asof(
        c,
        iv[["interval_deal_id", "valid_from", "stage_name"]],
        left_on="started_at",
        right_on="valid_from",
        left_by="deal_id",
        right_by="interval_deal_id",
    )
    c = c.merge(deals[["deal_id", *SEGMENTS]], on="deal_id", how="left")
    has_deal = c["deal_id"].notna()
    c["stage"] = np.where(
        ~has_deal, "(no deal)", c["stage_name"].where(c["interval_deal_id"].notna(), "before deal")
    )
    employee_key = ("uis:" + c["employee_id"]).where(
        c["employee_id"] != "",
        ("uis:name:" + c["employee_name"]).where(c["employee_name"] != "", ""),
    )
    operator = employee_key.map(operators).fillna("")
    c["deal_manager"] = c["manager"]
    c["manager"] = operator.where(operator != "", c["deal_manager"].where(has_deal, "unknown"))
    for col in ("deal_manager", "source", "project", "rating", "pipeline"):
        c[col] = c[col].where(has_deal, "(none)")
    return c


# -- marts -----------------------------------------------------------------------------------


def local_day(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()


def period_start(day: pd.Series, grain: str) -> pd.Series:
    if grain == "week":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    if grain == "month":
        return day - pd.to_timedelta(day.dt.day - 1, unit="D")
    return day


def segment_values(df: pd.DataFrame, segment: str) -> pd.Series:
    if segment == "all":
        return pd.Series("all", index=df.index)
    return df[segment].fillna("").replace("", "unknown")


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den).where(den != 0)


def call_load_by_stage(calls: pd.DataFrame) -> pd.DataFrame:
    c = calls.assign(
        day=local_day(calls["started_at"]),
        inbound=calls["direction"] == "in",
        outbound=calls["direction"] == "out",
        answered_talk=calls["talk_seconds"].where(calls["is_answered"], 0),
        with_deal=calls["deal_id"].notna(),
    )
    parts = []
    for grain in GRAINS:
        c["period_start"] = period_start(c["day"], grain)
        for segment in ("all", *CALL_SEGMENTS):
            c["segment_value"] = segment_values(c, segment)
            g = c.groupby(["period_start", "pipeline", "stage", "segment_value"], sort=False)
            part = g.agg(
                calls=("call_id", "size"),
                inbound_calls=("inbound", "sum"),
                outbound_calls=("outbound", "sum"),
                answered_calls=("is_answered", "sum"),
                talk_seconds=("talk_seconds", "sum"),
                answered_talk=("answered_talk", "sum"),
                deals_touched=("deal_id", "nunique"),
                with_deal=("with_deal", "sum"),
            ).reset_index()
            parts.append(part.assign(period_grain=grain, segment_type=segment))
    out = pd.concat(parts, ignore_index=True)
    out["missed_calls"] = out["calls"] - out["answered_calls"]
    out["avg_talk_seconds"] = ratio(out["answered_talk"], out["answered_calls"])
    out["calls_per_deal"] = ratio(out["with_deal"], out["deals_touched"])
    counts = ["calls", "inbound_calls", "outbound_calls", "answered_calls", "missed_calls",
              "talk_seconds"]  # fmt: skip
    out = out.astype({c: "int64" for c in [*counts, "deals_touched"]})
    cols = [*KEYS["call_load_by_stage"], *counts, "avg_talk_seconds", "deals_touched",
            "calls_per_deal"]  # fmt: skip
    return out[cols]


def development_share(wins: pd.DataFrame, value: pd.Series, day: pd.Series) -> np.ndarray:
    """For each (segment value, day): the share of the mature wins of that value that came
    before that day after their cohort's start; NaN for a value without mature wins.

    One sorted array of (value, won day) keys answers all rows with one binary search: a
    value's wins are a contiguous run, so the position within the run counts its earlier
    wins."""
    codes, values = pd.factorize(wins["segment_value"], sort=True)
    if len(values) == 0:
        return np.full(len(value), np.nan)
    span = np.int64(1) << 32  # days stay far below 2**31 in either direction
    keys = np.sort(codes.astype(np.int64) * span + wins["won_day"].to_numpy(np.int64))
    totals = np.bincount(codes, minlength=len(values))
    starts = np.concatenate([[0], np.cumsum(totals)[:-1]]).astype(np.int64)
    code = values.get_indexer(value)
    has = code >= 0
    wanted = np.where(has, code, 0).astype(np.int64) * span + day.to_numpy(np.int64)
    before = np.searchsorted(keys, wanted, side="left") - starts[np.where(has, code, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = before / totals[np.where(has, code, 0)]
    return np.where(has, share, np.nan)


def conversion_cohort(deals: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Leads of one creation period followed to their wins, with chain-ladder projection."""
    leads = deals[~deals["is_deleted"]].copy()
    leads["day"] = local_day(leads["created_at"])
    leads["won"] = leads["won_at"].notna()
    for n in HORIZONS:
        leads[f"within_{n}d"] = leads["won_at"] < leads["created_at"] + pd.Timedelta(days=n)
    as_of_local_day = local_day(pd.Series([as_of])).iloc[0]

    parts = []
    for grain in ("week", "month"):
        leads["cohort_start"] = period_start(leads["day"], grain)
        for segment in ("all", *SEGMENTS):
            leads["segment_value"] = segment_values(leads, segment)
            c = (
                leads.groupby(["cohort_start", "segment_value"])
                .agg(
                    leads=("deal_id", "size"),
                    won_to_date=("won", "sum"),
                    **{f"won_within_{n}d": (f"within_{n}d", "sum") for n in HORIZONS},
                )
                .reset_index()
            )
            next_start = (
                c["cohort_start"] + pd.Timedelta(days=7)
                if grain == "week"
                else c["cohort_start"] + pd.offsets.MonthBegin(1)
            )
            c["cohort_end"] = next_start.dt.tz_localize(TZ).dt.tz_convert("UTC")
            # Days are counted between local midnights (dateDiff in the business time zone).
            c["is_mature"] = (as_of_local_day - next_start).dt.days >= MATURITY_DAYS
            c["days_since_start"] = (as_of_local_day - c["cohort_start"]).dt.days
            c["age_days"] = (as_of_local_day - (next_start - pd.Timedelta(days=1))).dt.days

            # How many days after their cohort's start the wins of mature cohorts came.
            mature = c.loc[c["is_mature"], ["cohort_start", "segment_value"]]
            wins = leads[leads["won"]].merge(mature, on=["cohort_start", "segment_value"])
            wins["won_day"] = (local_day(wins["won_at"]) - wins["cohort_start"]).dt.days
            c["development_share"] = np.where(
                c["is_mature"],
                1.0,
                development_share(wins, c["segment_value"], c["days_since_start"]),
            )
            parts.append(c.assign(cohort_grain=grain, segment_type=segment))

    out = pd.concat(parts, ignore_index=True)
    out["cohort_conversion_to_date"] = ratio(out["won_to_date"], out["leads"])
    for n in HORIZONS:
        ripe = out["cohort_end"] + pd.Timedelta(days=n) <= as_of
        out[f"conversion_{n}d"] = ratio(out[f"won_within_{n}d"], out["leads"]).where(ripe)
    share = out["development_share"]
    out["projected_conversion"] = out["cohort_conversion_to_date"].where(
        out["is_mature"],
        (out["cohort_conversion_to_date"] / share).clip(upper=1.0).where(share.fillna(0) != 0),
    )
    out["age_days"] = out["age_days"].clip(lower=0)
    out["is_open"] = out["cohort_end"] > as_of  # leads may still join the cohort
    out["as_of"] = as_of
    cols = [*KEYS["conversion_cohort"], "leads", "won_to_date", "cohort_conversion_to_date",
            "age_days", "is_open"]  # fmt: skip
    for n in HORIZONS:
        cols += [f"won_within_{n}d", f"conversion_{n}d"]
    cols += ["is_mature", "development_share", "projected_conversion", "as_of"]
    ints = ["leads", "won_to_date", *(f"won_within_{n}d" for n in HORIZONS)]
    return out[cols].astype({**{c: "int64" for c in ints}, "age_days": "int32"})


def compute(export_dir: Path) -> dict[str, pd.DataFrame]:
    """{'conversion_cohort': df, 'call_load_by_stage': df} with the marts' columns and grain."""
    export_dir = Path(export_dir)
    amo, b24 = amocrm(export_dir / "amocrm"), bitrix24(export_dir / "bitrix24")
    calls = uis_calls(export_dir / "uis")

    def both(name: str) -> pd.DataFrame:
        return pd.concat([amo[name], b24[name]], ignore_index=True)

    raw_deals = pd.concat(
        [amo["deals"][DEAL_COLUMNS], b24["deals"][DEAL_COLUMNS]], ignore_index=True
    )
    stages = both("stages")
    intervals = stage_intervals(both("entries"), raw_deals, stages)
    deals = int_deals(raw_deals, stages, intervals, both("users"))
    operators = int_managers(both("users"), calls)
    calls = int_calls(calls, deals, both("call_links"), both("deal_phones"), intervals, operators)
    # as_of: the latest event in the data (deal creation, stage entry, call start, task or
    # CRM activity creation).
    latest = [deals["created_at"].max(), intervals["valid_from"].max(), calls["started_at"].max()]
    as_of = pd.Series([*latest, amo["last_touch"], b24["last_touch"]]).max()
    return {
        "conversion_cohort": conversion_cohort(deals, as_of),
        "call_load_by_stage": call_load_by_stage(calls),
    }


# -- agreement with the warehouse ------------------------------------------------------------


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if col in ("cohort_start", "period_start"):
            out[col] = pd.to_datetime(s).dt.tz_localize(None).astype("datetime64[s]")
        elif col == "as_of":
            out[col] = pd.to_datetime(s, utc=True).astype("datetime64[ms, UTC]")
        elif s.dtype == bool or col == "is_mature":
            out[col] = s.astype("int64")
    return out


def compare_frames(mart: str, ours: pd.DataFrame, theirs: pd.DataFrame) -> str:
    """Raises AssertionError naming the first differing rows; else a one-line verdict."""
    keys = KEYS[mart]
    assert set(ours.columns) == set(theirs.columns), (
        f"{mart}: columns differ: only pandas {sorted(set(ours.columns) - set(theirs.columns))}, "
        f"only warehouse {sorted(set(theirs.columns) - set(ours.columns))}"
    )
    a, b = _normalise(ours), _normalise(theirs[list(ours.columns)])
    for name, df in (("pandas", a), ("warehouse", b)):
        dup = df[df.duplicated(keys, keep=False)]
        assert dup.empty, f"{mart}: {name} repeats its grain:\n{dup.head(10).to_string()}"
    j = a.merge(b, on=keys, how="outer", suffixes=("", "_wh"), indicator=True)
    lonely = j[j["_merge"] != "both"]
    assert lonely.empty, (
        f"{mart}: {len(lonely)} rows on one side only (left_only = pandas):\n"
        + lonely[[*keys, "_merge"]].head(10).to_string()
    )
    bad_cols = []
    for col in (c for c in a.columns if c not in keys):
        x, y = j[col], j[col + "_wh"]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            x, y = pd.to_numeric(x).astype(float), pd.to_numeric(y).astype(float)
            same = (x.isna() & y.isna()) | np.isclose(x, y, rtol=1e-9, atol=0.0)
        elif pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            same = (x.isna() & y.isna()) | (x == y)
        else:
            same = (x.isna() & y.isna()) | (x.astype(str) == y.astype(str))
        if not same.all():
            bad_cols.append((col, ~same))
    if bad_cols:
        col, bad = bad_cols[0]
        rows = j.loc[bad, [*keys, col, col + "_wh"]].head(10).to_string()
        raise AssertionError(
            f"{mart}: {int(bad.sum())} rows differ in {col} "
            f"(columns differing: {[c for c, _ in bad_cols]}):\n{rows}"
        )
    return f"agree: {len(j):,} rows, {len(a.columns)} columns"


def compare(ours: dict[str, pd.DataFrame], client: Any, schema: str = "marts") -> dict[str, str]:
    """Each mart computed here against `<schema>.<mart>` in the warehouse (a clickhouse_connect
    client): exact for counts and keys, relative 1e-9 for ratios, NULL equals NULL."""
    return {
        mart: compare_frames(mart, df, client.query_df(f"SELECT * FROM {schema}.{mart}"))
        for mart, df in ours.items()
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.pandas_baseline EXPORT_DIR OUT_DIR", file=sys.stderr)
        return 2
    export_dir, out_dir = Path(argv[0]), Path(argv[1])
    start = time.perf_counter()
    marts = compute(export_dir)
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, df in marts.items():
        df.to_parquet(out_dir / f"{name}.parquet", index=False)
        print(f"{name}: {len(df):,} rows")
    print(f"computed in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
