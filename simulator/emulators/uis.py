"""UIS (CoMagic) Data API v2.0 emulator: JSON-RPC 2.0 `get.calls_report` and `get.account`.

Confirmed behaviour reproduced (SOURCE_APIS.md §3): POST JSON-RPC only, no batches (-32099),
access_token auth (-32001), local times without offset, `date_from`/`date_till` required and at
most 3 months apart (-32602 date_interval_limit_reached), limit ≤ 10 000 (default 1000),
offset ≤ 100 000, `metadata.total_items`, points per minute and day in `metadata.limits` on
every reply (-32029 limit_exceeded when used up), empty fields present as null, `fields`
selection, `filter` trees and `sort`. Errors come with HTTP 200 (the docs do not say; the
community client reads `error.code` from the body either way).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.calls import FINISH_REASONS, KIND_UNKNOWN
from funnelhouse.simulator.company.directory import AMOCRM, SOURCES
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.base import Emulator, Request, Response, dumps
from funnelhouse.simulator.emulators.limits import Points
from funnelhouse.simulator.emulators.timefmt import parse_local
from funnelhouse.simulator.emulators.world import World, col

MAX_LIMIT, DEFAULT_LIMIT, MAX_OFFSET = 10_000, 1_000, 100_000
MAIN_NUMBER = "74951112200"
PARAMS = {
    "access_token",
    "user_id",
    "date_from",
    "date_till",
    "limit",
    "offset",
    "filter",
    "sort",
    "fields",
    "include_ongoing_calls",
}
FIELDS = (
    "id",
    "start_time",
    "finish_time",
    "virtual_phone_number",
    "finish_reason",
    "direction",
    "source",
    "communication_id",
    "communication_type",
    "communication_page_url",
    "is_lost",
    "is_transfer",
    "cpn_region_id",
    "cpn_region_name",
    "wait_duration",
    "total_wait_duration",
    "lost_call_processing_duration",
    "talk_duration",
    "clean_talk_duration",
    "total_duration",
    "postprocess_duration",
    "call_records",
    "full_record_file_link",
    "tags",
    "visitor_id",
    "visitor_session_id",
    "visitor_type",
    "scenario_id",
    "scenario_name",
    "contact_phone_number",
    "operator_phone_number",
    "employees",
    "first_answered_employee_id",
    "first_answered_employee_full_name",
    "last_answered_employee_id",
    "last_answered_employee_full_name",
    "last_talked_employee_id",
    "last_talked_employee_full_name",
    "contact_id",
    "contact_full_name",
    "site_id",
    "site_domain_name",
    "campaign_id",
    "campaign_name",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "sale_date",
    "sale_cost",
    "attributes",
    "ext_id",
)
FILTERABLE = {
    "id": "int",
    "start_time": "time",
    "finish_time": "time",
    "direction": "str",
    "is_lost": "bool",
    "talk_duration": "int",
    "wait_duration": "int",
    "total_duration": "int",
    "contact_phone_number": "str",
    "virtual_phone_number": "str",
    "finish_reason": "str",
    "source": "str",
}


class RpcError(Exception):
    def __init__(
        self, code: int, message: str, mnemonic: str, field: str | None = None, value: Any = None
    ):
        super().__init__(message)
        self.code, self.message, self.mnemonic, self.field, self.value = (
            code,
            message,
            mnemonic,
            field,
            value,
        )


def add_months(dt: datetime, months: int) -> datetime:
    month = dt.month - 1 + months
    year = dt.year + month // 12
    month = month % 12 + 1
    days = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return dt.replace(year=year, month=month, day=min(dt.day, days))


class Uis(Emulator):
    name = "uis"

    def __init__(
        self,
        world: World,
        *,
        token: str,
        minute_limit: int = 100,
        day_limit: int = 10_000,
        rate_multiplier: float = 1.0,
        faults: dict | None = None,
    ):
        super().__init__(world, rate_multiplier=rate_multiplier, faults=faults)
        self.token = token
        self.points = Points(int(minute_limit * rate_multiplier), int(day_limit * rate_multiplier))
        self.c = world.company
        self.tz = self.c.cfg.uis_tz
        mgr = self.c.managers
        self.names = (mgr["last_name"] + " " + mgr["first_name"]).to_numpy()
        self.emp_ids = mgr["uis_employee_id"].to_numpy()
        self.mgr_amo = mgr["crm"].to_numpy() == AMOCRM
        calls = self.c.calls
        self.finish = (calls["start"] + calls["wait"] + calls["talk"]).to_numpy()
        cb = calls["callback_of"].to_numpy()
        self.processing = np.full(len(calls), -1, dtype=np.int64)
        has = cb >= 0
        self.processing[cb[has]] = (
            calls["start"].to_numpy()[has] - calls["start"].to_numpy()[cb[has]]
        )

    # -- plumbing ------------------------------------------------------------------------
    def endpoint(self, req: Request) -> str:
        rpc = getattr(req, "rpc", None)
        return str(rpc.get("method")) if isinstance(rpc, dict) else req.path

    def _parse(self, req: Request) -> dict | Response:
        if req.method != "POST":
            return Response(405, b"Method Not Allowed", "text/plain")
        if req.path.rstrip("/") != "/v2.0":
            return Response(404, b"Not Found", "text/plain")
        try:
            rpc = json.loads(req.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self._err(None, RpcError(-32700, "Parse error", "parse_error"))
        if isinstance(rpc, list):
            return self._err(
                None, RpcError(-32099, "Batch requests are not supported", "batch_not_supported")
            )
        if (
            not isinstance(rpc, dict)
            or rpc.get("jsonrpc") != "2.0"
            or not isinstance(rpc.get("method"), str)
            or not isinstance(rpc.get("params", {}), dict)
        ):
            return self._err(
                rpc.get("id") if isinstance(rpc, dict) else None,
                RpcError(-32600, "Invalid Request", "invalid_request"),
            )
        if "id" not in rpc:
            return self._err(
                None,
                RpcError(-32099, "Notifications are not supported", "notification_not_supported"),
            )
        req.rpc = rpc  # type: ignore[attr-defined]
        return rpc

    def authorize(self, req: Request) -> Response | None:
        rpc = self._parse(req)
        if isinstance(rpc, Response):
            return rpc
        if (rpc.get("params") or {}).get("access_token") != self.token:
            return self._err(
                rpc.get("id"), RpcError(-32001, "Access token is invalid", "access_token_invalid")
            )
        return None

    def limit(self, req: Request) -> Response | None:
        over = self.points.exhausted()
        if over is None:
            return None
        rpc = getattr(req, "rpc", {})
        return self._err(
            rpc.get("id"),
            RpcError(
                -32029, f"Limit per {over} has been exceeded. Try again later.", "limit_exceeded"
            ),
        )

    def reset_limits(self) -> None:
        self.points.reset()

    def describe(self) -> dict[str, Any]:
        return {
            "rate_limit": f"{self.points.minute_limit} points/minute, "
            f"{self.points.day_limit} points/day",
            "timezone": self.tz,
        }

    def fail(self, status: int, req: Request) -> Response:
        if status == 429:
            return self._err(
                None,
                RpcError(
                    -32029, "Limit per minute has been exceeded. Try again later.", "limit_exceeded"
                ),
            )
        if status == 500:
            resp = self._err(None, RpcError(-32603, "Internal error", "internal_error"))
            resp.status = 500
            return resp
        return super().fail(status, req)

    def _err(self, rpc_id: Any, e: RpcError) -> Response:
        data = {
            "mnemonic": e.mnemonic,
            "field": e.field,
            "value": e.value,
            "params": {},
            "extended_helper": None,
            "metadata": {"limits": self.points.state().as_dict()},
        }
        body = {
            "jsonrpc": "2.0",
            "id": rpc_id,
            "error": {"code": e.code, "message": e.message, "data": data},
        }
        return Response(200, dumps(body), "application/json; charset=UTF-8")

    def handle(self, req: Request) -> Response:
        rpc = req.rpc  # type: ignore[attr-defined]
        try:
            if rpc["method"] == "get.calls_report":
                result = self.calls_report(rpc.get("params") or {})
            elif rpc["method"] == "get.account":
                result = {
                    "data": [
                        {
                            "app_id": 100_000 + self.c.cfg.seed % 900_000,
                            "name": "Funnelhouse Demo",
                            "timezone": self.tz,
                        }
                    ]
                }
            else:
                raise RpcError(-32601, "Method not found", "method_not_found")
        except RpcError as e:
            return self._err(rpc.get("id"), e)
        self.points.charge()
        result.setdefault("metadata", {})["limits"] = self.points.state().as_dict()
        body = {"jsonrpc": "2.0", "id": rpc.get("id"), "result": result}
        return Response(200, dumps(body), "application/json; charset=UTF-8", is_data=True)

    # -- get.calls_report ----------------------------------------------------------------
    def _time(self, params: dict, key: str) -> tuple[int, datetime]:
        if key not in params:
            raise RpcError(
                -32602, f"Required parameter {key} is missed", "required_parameter_missed", key
            )
        text = params[key]
        try:
            dt = datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise RpcError(
                -32602, f"Invalid value of parameter {key}", "invalid_parameter_value", key, text
            ) from None
        return parse_local(str(text), self.tz), dt

    def calls_report(self, params: dict) -> dict:
        extra = set(params) - PARAMS
        if extra:
            raise RpcError(
                -32602,
                f"Unexpected parameters: {', '.join(sorted(extra))}",
                "unexpected_parameters",
                sorted(extra)[0],
            )
        lo, lo_dt = self._time(params, "date_from")
        hi, hi_dt = self._time(params, "date_till")
        if hi < lo:
            raise RpcError(
                -32602,
                "date_till is earlier than date_from",
                "invalid_parameter_value",
                "date_till",
            )
        if hi_dt > add_months(lo_dt, 3):
            raise RpcError(
                -32602,
                "The date interval is more than 3 months",
                "date_interval_limit_reached",
                "date_till",
            )
        cap = 2**62 if self.bulk else MAX_LIMIT
        limit = self._int(params, "limit", DEFAULT_LIMIT, 1, cap)
        offset = self._int(params, "offset", 0, 0, cap if self.bulk else MAX_OFFSET)
        fields = params.get("fields") or list(FIELDS)
        bad = [f for f in fields if f not in FIELDS] if isinstance(fields, list) else ["fields"]
        if bad:
            raise RpcError(
                -32602,
                f"Invalid value of parameter fields: {bad[0]}",
                "invalid_parameter_value",
                "fields",
                bad[0],
            )
        by_start, starts = self._by_start()
        window = slice(
            int(np.searchsorted(starts, lo, side="left")),
            int(np.searchsorted(starts, hi, side="right")),
        )
        view = by_start.iloc[window]  # in the default order: start, then id
        if params.get("filter"):
            view = view[self._filter(view, params["filter"])]
        if params.get("sort"):  # sorted stably from the calls' own order, as it always was
            view = self._sort(view.sort_index(), params["sort"])
        rows = view.iloc[offset : offset + limit]
        keep = list(fields)
        records = self._records(rows["row"].to_numpy(), keep)
        spec = defects.RecordSpec(
            id="id",
            created=["start_time"],
            shift=defects.shift_text("%Y-%m-%d %H:%M:%S"),
            durations=["talk_duration", "total_duration"],
            retype={"talk_duration": lambda v: str(v) if isinstance(v, int) else v},
        )
        records = defects.apply(records, rows["row"].tolist(), self.faults, spec)
        return {"data": records, "metadata": {"total_items": len(view)}}

    @staticmethod
    def _int(params: dict, key: str, default: int, lo: int, hi: int) -> int:
        value = params.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise RpcError(
                -32602, f"Invalid value of parameter {key}", "invalid_parameter_value", key, value
            )
        return value

    def _view(self) -> pd.DataFrame:
        calls = self.c.calls

        def build(clock: int) -> pd.DataFrame:
            rows = np.flatnonzero(self.finish <= clock)
            return pd.DataFrame(
                {
                    "row": rows,
                    "id": calls["uis_id"].to_numpy()[rows],
                    "start": calls["start"].to_numpy()[rows],
                }
            )

        return self.world.cached("uis.calls", build)

    def _by_start(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The calls view in the default order (start, then id) and its start times.

        A date window is then a slice found by bisection: a request no longer scans and sorts
        every call, which made paging a long history quadratic. The index labels are the
        positions in `_view()`, so `sort_index()` restores the calls' own order."""

        def build(clock: int) -> tuple[pd.DataFrame, np.ndarray]:
            view = self._view().sort_values(["start", "id"], kind="stable")
            return view, view["start"].to_numpy()

        return self.world.cached("uis.calls.by_start", build)

    def _columns(self, view: pd.DataFrame, field: str) -> np.ndarray:
        calls = self.c.calls
        rows = view["row"].to_numpy()
        inbound = calls["inbound"].to_numpy()[rows]
        answered = calls["answered"].to_numpy()[rows]
        return {
            "id": lambda: view["id"].to_numpy(),
            "start_time": lambda: view["start"].to_numpy(),
            "finish_time": lambda: self.finish[rows],
            "direction": lambda: np.where(inbound, "in", "out"),
            "is_lost": lambda: ~answered,
            "talk_duration": lambda: calls["talk"].to_numpy()[rows],
            "wait_duration": lambda: calls["wait"].to_numpy()[rows],
            "total_duration": lambda: (calls["talk"] + calls["wait"]).to_numpy()[rows],
            "contact_phone_number": lambda: calls["phone"].to_numpy()[rows].astype(str),
            "virtual_phone_number": lambda: self._rendered(rows, "virtual_phone_number"),
            "finish_reason": lambda: np.array(FINISH_REASONS, dtype=object)[
                calls["finish_reason"].to_numpy()[rows]
            ],
            "source": lambda: self._rendered(rows, "source"),
        }[field]()

    def _filter(self, view: pd.DataFrame, node: Any) -> np.ndarray:
        if not isinstance(node, dict):
            raise RpcError(
                -32602, "Invalid value of parameter filter", "invalid_parameter_value", "filter"
            )
        if "filters" in node:
            parts = [self._filter(view, f) for f in node["filters"]]
            if not parts:
                return np.ones(len(view), bool)
            out = parts[0]
            for p in parts[1:]:
                out = (out | p) if node.get("condition") == "or" else (out & p)
            return out
        field, op, value = node.get("field"), node.get("operator"), node.get("value")
        if field not in FILTERABLE:
            raise RpcError(
                -32602, f"Filtering by {field} is prohibited", "filter_prohibited", "filter", field
            )
        col = self._columns(view, field)
        kind = FILTERABLE[field]
        conv = (
            (lambda v: parse_local(str(v), self.tz))
            if kind == "time"
            else ((lambda v: str(v)) if kind == "str" else (lambda v: v))
        )
        try:
            if op in ("in", "not_in"):
                mask = np.isin(col, [conv(v) for v in value])
                return ~mask if op == "not_in" else mask
            v = conv(value)
            if op in ("like", "ilike"):
                needle = str(value).strip("%").lower()
                return np.array([needle in str(x).lower() for x in col], bool)
            return {
                "=": col == v,
                "!=": col != v,
                ">": col > v,
                ">=": col >= v,
                "<": col < v,
                "<=": col <= v,
            }[op]
        except (KeyError, TypeError, ValueError):
            raise RpcError(
                -32602, f"Invalid filter operator {op}", "invalid_parameter_value", "filter", op
            ) from None

    def _sort(self, view: pd.DataFrame, sort: Any) -> pd.DataFrame:
        """A `sort` parameter (not empty) applied to `view`, stably, then by id."""
        if not isinstance(sort, list):
            raise RpcError(
                -32602, "Invalid value of parameter sort", "invalid_parameter_value", "sort"
            )
        view = view.copy()
        cols, asc = [], []
        for i, s in enumerate(sort):
            field = s.get("field") if isinstance(s, dict) else None
            if field not in FILTERABLE:
                raise RpcError(
                    -32602, f"Sorting by {field} is prohibited", "sort_prohibited", "sort", field
                )
            view[f"_s{i}"] = self._columns(view, field)
            cols.append(f"_s{i}")
            asc.append(str(s.get("order", "asc")).lower() != "desc")
        return view.sort_values([*cols, "id"], ascending=[*asc, True], kind="stable")

    def _rendered(self, rows: np.ndarray, field: str) -> np.ndarray:
        return np.array([r[field] for r in self._records(rows, [field])], dtype=object)

    # -- rows ----------------------------------------------------------------------------
    def _records(self, rows: np.ndarray, fields: list[str]) -> list[dict[str, Any]]:
        """The requested fields of calls `rows`, column by column: a 10 000-row page renders in
        a fraction of the per-record time, so the emulator never sets the client's pace."""
        calls, tz = self.c.calls, self.tz
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        start = col(calls, "start")[rows].astype(np.int64)
        talk = col(calls, "talk")[rows].astype(np.int64)
        wait = col(calls, "wait")[rows].astype(np.int64)
        answered = col(calls, "answered")[rows].astype(bool)
        inbound = col(calls, "inbound")[rows].astype(bool)
        manager = col(calls, "manager")[rows].astype(np.int64)
        uis_id = col(calls, "uis_id")[rows].astype(np.int64)
        phone = col(calls, "phone")[rows].astype(np.int64)
        lead = col(calls, "lead")[rows].astype(np.int64)
        lead_source = col(self.c.leads, "source")
        source = np.where(lead >= 0, lead_source[np.maximum(lead, 0)], -1).astype(np.int64)
        emp = self.emp_ids[manager].astype(np.int64)
        names = self.names[manager]
        camp = (inbound & (source >= 0)).tolist()
        unknown = col(calls, "kind")[rows] == KIND_UNKNOWN
        proc = self.processing[rows]
        none: list[Any] = [None] * n
        ids, ans, inb, src = uis_id.tolist(), answered.tolist(), inbound.tolist(), source.tolist()
        emp_l, names_l = emp.tolist(), [str(x) for x in names]

        def who(values: list[Any]) -> list[Any]:
            return [v if a else None for v, a in zip(values, ans, strict=True)]

        def hashes() -> list[str]:
            return [hashlib.md5(f"rec{i}".encode()).hexdigest() for i in ids]

        def employees() -> list[list[dict[str, Any]]]:
            other = (manager + 1) % len(self.emp_ids)
            rang = (inbound & ~answered & (rows % 3 == 0)).tolist()
            o_ids, o_names = self.emp_ids[other].tolist(), [str(x) for x in self.names[other]]
            out = []
            for k in range(n):
                a = ans[k]
                item = [{"employee_id": emp_l[k], "employee_full_name": names_l[k],
                         "is_answered": a, "is_talked": a}]  # fmt: skip
                if rang[k]:  # the group scenario also rang a colleague
                    item.append({"employee_id": o_ids[k], "employee_full_name": o_names[k],
                                 "is_answered": False, "is_talked": False})  # fmt: skip
                out.append(item)
            return out

        def tags() -> list[list[dict[str, Any]]]:
            missed = (inbound & ~answered).tolist()
            at = _local_many(start + wait, tz)
            return [
                [{"tag_id": 501, "tag_name": "Пропущенный", "tag_type": "system",
                  "tag_change_time": t, "tag_user_id": None, "tag_user_login": None,
                  "tag_user_full_name": None}] if m else []
                for m, t in zip(missed, at, strict=True)
            ]  # fmt: skip

        def virtual() -> list[str]:
            return [
                (f"749511122{10 + s:02d}" if s >= 0 else MAIN_NUMBER) if i else MAIN_NUMBER
                for i, s in zip(inb, src, strict=True)
            ]

        def sources() -> list[str]:
            tracked = ((source >= 0) & (rows % 4 != 0)).tolist()
            amo = self.mgr_amo[manager].tolist()
            return [
                ("call_tracking" if t else "va") if i else ("amocrm" if a else "bitrix")
                for i, t, a in zip(inb, tracked, amo, strict=True)
            ]

        def if_campaign(value: Any) -> list[Any]:
            return [value if c else None for c in camp]

        def region(odd: Any, even: Any) -> list[Any]:
            return [odd if r else even for r in (rows % 2 == 1).tolist()]

        def links() -> list[str | None]:
            return [
                f"https://app.uiscom.ru/system/media/talk/{i}/{h}/" if a else None
                for i, h, a in zip(ids, hashes(), ans, strict=True)
            ]

        columns: dict[str, Callable[[], list[Any]]] = {
            "id": lambda: ids,
            "start_time": lambda: _local_many(start, tz),
            "finish_time": lambda: _local_many(start + wait + talk, tz),
            "virtual_phone_number": virtual,
            "finish_reason": lambda: [
                FINISH_REASONS[r] for r in col(calls, "finish_reason")[rows].tolist()
            ],
            "direction": lambda: ["in" if i else "out" for i in inb],
            "source": sources,
            "communication_id": lambda: [
                u + 7 if i else None for u, i in zip(ids, inb, strict=True)
            ],
            "communication_type": lambda: ["call" if i else None for i in inb],
            "is_lost": lambda: [not a for a in ans],
            "is_transfer": lambda: [False] * n,
            "cpn_region_id": lambda: region(1, 2),
            "cpn_region_name": lambda: region("Москва", "Московская область"),
            "wait_duration": wait.tolist,
            "total_wait_duration": wait.tolist,
            "lost_call_processing_duration": lambda: [p if p >= 0 else None for p in proc.tolist()],
            "talk_duration": talk.tolist,
            "clean_talk_duration": lambda: np.maximum(0, talk - talk // 20).tolist(),
            "total_duration": lambda: (wait + talk).tolist(),
            "postprocess_duration": lambda: np.where(answered, uis_id % 30, 0).tolist(),
            "call_records": lambda: [[h] if a else [] for h, a in zip(hashes(), ans, strict=True)],
            "full_record_file_link": links,
            "tags": tags,
            "scenario_id": lambda: [3001 if i else None for i in inb],
            "scenario_name": lambda: ["Входящие: отдел продаж" if i else None for i in inb],
            "contact_phone_number": lambda: [str(p) for p in phone.tolist()],
            "employees": employees,
            "first_answered_employee_id": lambda: who(emp_l),
            "first_answered_employee_full_name": lambda: who(names_l),
            "last_answered_employee_id": lambda: who(emp_l),
            "last_answered_employee_full_name": lambda: who(names_l),
            "last_talked_employee_id": lambda: who(emp_l),
            "last_talked_employee_full_name": lambda: who(names_l),
            "contact_id": lambda: [
                None if u else 9_000_000 + p % 1_000_000
                for u, p in zip(unknown.tolist(), phone.tolist(), strict=True)
            ],
            "site_id": lambda: if_campaign(77),
            "site_domain_name": lambda: if_campaign("funnelhouse.example"),
            "campaign_id": lambda: [
                1000 + s if c else None for s, c in zip(src, camp, strict=True)
            ],
            "campaign_name": lambda: [
                SOURCES[s].name if c else None for s, c in zip(src, camp, strict=True)
            ],
            "channel": lambda: if_campaign("offline"),
            "attributes": lambda: [[] for _ in range(n)],
        }
        names_out = list(dict.fromkeys(fields))
        values = [columns[f]() if f in columns else none for f in names_out]
        return [dict(zip(names_out, v, strict=True)) for v in zip(*values, strict=True)]


def _local_many(ts: np.ndarray, tz: str) -> list[str]:
    """`timefmt.local` for an array: account-local wall time of unix seconds, no offset."""
    wall = pd.to_datetime(ts, unit="s", utc=True).tz_convert(tz).tz_localize(None)
    text = np.datetime_as_string(wall.to_numpy().astype("datetime64[s]"), unit="s")
    return [t[:10] + " " + t[11:] for t in text.tolist()]
