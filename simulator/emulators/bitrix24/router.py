"""Bitrix24 REST emulator: incoming-webhook URLs, list methods of 50, batch, leaky bucket.

Confirmed behaviour reproduced (SOURCE_APIS.md §2): `/rest/{user}/{code}/{method}.json`, POST
JSON or GET/form parameters in PHP style, pages of exactly 50 with `next` only when more rows
exist and `total`, `start=-1` (no count: total 0), string numbers in crm.deal.list and
voximplant.statistic.get but ints in crm.stagehistory.list, dates with the portal's offset,
batch of ≤50 commands with result/result_error/result_total/result_next/result_time (always
HTTP 200), 503 QUERY_LIMIT_EXCEEDED from a leaky bucket (50, drained 2/s), `{"error",
"error_description"}` bodies.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.calls import FINISH_REASONS
from funnelhouse.simulator.company.deals import STAGE_INDEX, STAGE_KIND, STAGE_POS
from funnelhouse.simulator.company.directory import (
    BITRIX24,
    PIPELINES,
    PROJECTS,
    RATINGS,
    SOURCES,
    person_name,
)
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.base import Emulator, Request, Response, dumps
from funnelhouse.simulator.emulators.limits import LeakyBucket
from funnelhouse.simulator.emulators.params import as_list, nest
from funnelhouse.simulator.emulators.timefmt import iso_offset, parse_local
from funnelhouse.simulator.emulators.world import World, col

PAGE = 50
MAX_BATCH = 50
_OPS = (">=", "<=", "!=", "!@", "=%", "%=", "><", ">", "<", "=", "!", "@", "%")
SEMANTIC = {"open": "P", "won": "S", "lost": "F", "unsorted": "P"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


@dataclass
class Table:
    """A list method: its rows as of the clock with typed columns, and how to render one."""

    view: Callable[[], pd.DataFrame]
    types: dict[str, str]  # column -> int | str | date | float
    render: Callable[[Any], dict[str, Any]]
    spec: defects.RecordSpec
    wrap: str | None = None  # crm.stagehistory.list: result {"items": [...]}
    uf: tuple[str, ...] = ()


def stage_id(code: int) -> str:
    p, s = STAGE_INDEX[code]
    return str(PIPELINES[p].stages[s].id)


class Bitrix24(Emulator):
    name = BITRIX24

    def __init__(
        self,
        world: World,
        *,
        user_id: int,
        code: str,
        capacity: float = 50,
        drain_per_second: float = 2.0,
        rate_multiplier: float = 1.0,
        faults: dict | None = None,
    ):
        super().__init__(world, rate_multiplier=rate_multiplier, faults=faults)
        self.user_id, self.code = user_id, code
        self.bucket = LeakyBucket(capacity, drain_per_second * rate_multiplier)
        self.c = world.company
        self.tz = self.c.cfg.bitrix_tz
        self._list_requests: dict[str, int] = {}
        c = self.c
        self.is_b24 = c.leads["crm"].to_numpy() == BITRIX24
        self.user_ids = c.managers["user_id"].to_numpy()
        self.stage_ids = np.array([stage_id(s) for s in range(len(STAGE_INDEX))], dtype=object)
        self.semantic = np.array([SEMANTIC[k] for k in STAGE_KIND], dtype=object)
        self.category = np.array([PIPELINES[p].id for p, _ in STAGE_INDEX])
        first = np.full(len(c.clients), -1)
        client = c.leads["client"].to_numpy()
        first[client[::-1]] = np.arange(len(c.leads))[::-1]
        self.client_manager = c.leads["manager"].to_numpy()[first]
        self.tables: dict[str, Table] = {
            "crm.deal.list": self._deals_table(),
            "crm.stagehistory.list": self._history_table(),
            "voximplant.statistic.get": self._calls_table(),
            "crm.activity.list": self._activities_table(),
            "crm.contact.list": self._contacts_table(),
            "crm.company.list": self._companies_table(),
            "crm.requisite.list": self._requisites_table(),
            "user.get": self._users_table(),
        }
        self.methods: dict[str, Callable[[dict], dict]] = {
            "crm.status.list": self.status_list,
            "crm.category.list": self.category_list,
            "crm.deal.get": self.deal_get,
            "profile": lambda p: {
                "result": {
                    "ID": str(self.user_id),
                    "ADMIN": True,
                    "NAME": "Администратор",
                    "LAST_NAME": "",
                }
            },
        }

    # -- plumbing ------------------------------------------------------------------------
    def endpoint(self, req: Request) -> str:
        return req.path.rsplit("/", 1)[-1].removesuffix(".json")

    def authorize(self, req: Request) -> Response | None:
        m = re.match(r"^/rest/(\d+)/([^/]+)/([\w.]+?)(\.json)?$", req.path)
        if not m or int(m.group(1)) != self.user_id or m.group(2) != self.code:
            return _error(401, "NO_AUTH_FOUND", "Wrong authorization data")
        return None

    def limit(self, req: Request) -> Response | None:
        if self.bucket.allow():
            return None
        return _error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")

    def reset_limits(self) -> None:
        self.bucket.reset()
        self._list_requests.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "rate_limit": f"leaky bucket {self.bucket.capacity:g}, drains {self.bucket.drain:g}/s",
            "portal_timezone": self.tz,
        }

    def fail(self, status: int, req: Request) -> Response:
        if status == 429:
            return _error(
                429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
            )
        if status == 503:
            return _error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        return _error(500, "INTERNAL_SERVER_ERROR", "Internal server error")

    def handle(self, req: Request) -> Response:
        method = self.endpoint(req)
        try:
            params = self._params(req)
        except ValueError:
            return _error(400, "INVALID_REQUEST", "Could not parse the request body")
        started = time.time()
        try:
            body = self.batch(params) if method == "batch" else self.call(method, params)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.description)
        body["time"] = _time(started, self.tz)
        return Response(
            200, dumps(body, ascii_only=True), "application/json; charset=utf-8", is_data=True
        )

    @staticmethod
    def _params(req: Request) -> dict[str, Any]:
        params = nest(req.query)
        ctype = req.headers.get("content-type", "")
        if req.body:
            if "json" in ctype:
                body = json.loads(req.body.decode("utf-8"))
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(nest(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True)))
        return params

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method in self.tables:
            return self._list(method, params)
        if method in self.methods:
            return self.methods[method](params)
        raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")

    def batch(self, params: dict[str, Any]) -> dict[str, Any]:
        cmd = params.get("cmd") or {}
        if isinstance(cmd, list):
            cmd = {str(i): v for i, v in enumerate(cmd)}
        if not isinstance(cmd, dict):
            raise ApiError(400, "INVALID_ARG_VALUE", "cmd must be an array")
        if len(cmd) > MAX_BATCH:
            raise ApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        halt = str(params.get("halt", "0")) in ("1", "true", "True")
        out: dict[str, dict[str, Any]] = {
            k: {} for k in ("result", "result_error", "result_total", "result_next", "result_time")
        }
        for key, text in cmd.items():
            method, _, query = str(text).partition("?")
            started = time.time()
            try:
                if method in ("batch", "batch.json"):
                    raise ApiError(
                        405,
                        "ERROR_BATCH_METHOD_NOT_ALLOWED",
                        "Method is not allowed for batch usage",
                    )
                res = self.call(
                    method.removesuffix(".json"), nest(parse_qsl(query, keep_blank_values=True))
                )
            except ApiError as exc:
                out["result_error"][key] = {"error": exc.code, "error_description": exc.description}
                if halt:
                    break
                continue
            out["result"][key] = res["result"]
            if "total" in res:
                out["result_total"][key] = res["total"]
            if "next" in res:
                out["result_next"][key] = res["next"]
            out["result_time"][key] = _time(started, self.tz)
        # PHP encodes an empty associative array as [] (the real batch does too).
        return {"result": {k: (v if v else []) for k, v in out.items()}}

    # -- generic list --------------------------------------------------------------------
    def _list(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        table = self.tables[method]
        if method == "crm.stagehistory.list":
            et = str(params.get("entityTypeId", ""))
            if et not in ("1", "2"):
                raise ApiError(
                    400, "ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {et or '?'} is not supported"
                )
        upper = method in ("voximplant.statistic.get", "user.get")
        view = table.view()
        if method == "crm.stagehistory.list" and str(params.get("entityTypeId")) == "1":
            view = view.iloc[0:0]  # no Bitrix24 leads in this company: deals are created directly
        flt = params.get("FILTER" if upper else "filter", params.get("filter", {}))
        if flt in (None, "", []):
            flt = {}
        if not isinstance(flt, dict):
            raise ApiError(400, "", "Parameter 'filter' must be array.")
        view = self._filter(view, flt, table.types)
        view = self._order(view, params, upper, table.types)
        try:
            start = int(params.get("start", 0) or 0)
        except ValueError:
            start = 0
        dup = self.faults.on("duplicate_pages")
        page = 200_000 if self.bulk else PAGE
        if start == -1:
            rows, total, nxt = view.iloc[:page], 0, None
        else:
            lo = max(0, start - (int(dup["overlap"]) if dup and start > 0 else 0))
            rows, total = view.iloc[lo : start + page], len(view)
            nxt = start + page if start + page < total else None
        records = [table.render(r) for r in rows.itertuples()]
        records = defects.apply(records, rows["row"].tolist(), self.faults, table.spec)
        records = [self._select(r, params.get("select"), table.uf) for r in records]
        result: Any = {table.wrap: records} if table.wrap else records
        body: dict[str, Any] = {"result": result, "total": total}
        if nxt is not None:
            body["next"] = nxt
        return body

    @staticmethod
    def _select(rec: dict, select: Any, uf: tuple[str, ...]) -> dict:
        fields = as_list(select)
        if not fields:
            return {
                k: v
                for k, v in rec.items()
                if k not in uf and k != "COMMUNICATIONS" and k != "PHONE"
            }
        keep = set(fields)
        out = {}
        for k, v in rec.items():
            standard = k not in uf and k not in ("COMMUNICATIONS", "PHONE")
            if (
                k in keep
                or (standard and "*" in keep)
                or (k in uf and "UF_*" in keep)
                or k in ("ID",)
            ):
                out[k] = v
        return out

    def _filter(self, view: pd.DataFrame, flt: dict, types: dict[str, str]) -> pd.DataFrame:
        for raw_key, value in flt.items():
            op = next((o for o in _OPS if raw_key.startswith(o)), "")
            field = raw_key[len(op) :]
            if field not in types or field not in view:
                continue  # real Bitrix24 ignores unknown filter fields
            kind = types[field]
            col = view[field].to_numpy()
            values = (
                [self._coerce(v, kind) for v in as_list(value)]
                if op in ("@", "!@", "><") or isinstance(value, list)
                else [self._coerce(value, kind)]
            )
            if op in ("@", ""):
                mask = np.isin(col, values) if op == "@" or len(values) > 1 else col == values[0]
            elif op in ("!@", "!", "!="):
                mask = ~np.isin(col, values)
            elif op == "><" and len(values) >= 2:
                mask = (col >= values[0]) & (col <= values[1])
            elif op in ("%", "=%", "%="):
                needle = str(values[0]).lower()
                mask = np.array([needle in str(x).lower() for x in col], dtype=bool)
            elif op == "=":
                mask = col == values[0]
            else:
                v = values[0]
                mask = {">": col > v, ">=": col >= v, "<": col < v, "<=": col <= v}[op]
            view = view[mask]
        return view

    def _coerce(self, value: Any, kind: str) -> Any:
        if kind == "int":
            try:
                return int(float(value))
            except (TypeError, ValueError):
                return -(10**12)
        if kind == "float":
            return float(value)
        if kind == "date":
            return parse_local(str(value), self.tz)
        return str(value)

    @staticmethod
    def _order(
        view: pd.DataFrame, params: dict, upper: bool, types: dict[str, str]
    ) -> pd.DataFrame:
        if upper:
            sort = params.get("SORT") or params.get("sort")
            direction = str(params.get("ORDER") or params.get("order") or "ASC")
            order = {str(sort): direction} if sort else {}
        else:
            order = params.get("order") or {}
        cols, asc = [], []
        if isinstance(order, dict):
            for k, v in order.items():
                if k in view and k in types:
                    cols.append(k)
                    asc.append(str(v).upper() != "DESC")
        if "ID" not in cols:
            cols.append("ID")
            asc.append(True)
        return view.sort_values(cols, ascending=asc, kind="stable")

    def _touch(self, stream: str, view: pd.DataFrame, field: str) -> pd.DataFrame:
        p = self.faults.on("update_while_paging")
        touched = self.world.touched.get(stream, {})
        if p is not None:
            n = self._list_requests.get(stream, 0)
            self._list_requests[stream] = n + 1
            if n > 0:
                fresh = view[~view["row"].isin(list(touched))]
                oldest = fresh.sort_values([field, "ID"], kind="stable").head(int(p["count"]))
                self.world.touch(stream, oldest["row"].tolist())
                touched = self.world.touched.get(stream, {})
        if touched:
            view = view.copy()
            hit = view["row"].isin(list(touched)).to_numpy()
            view.loc[hit, field] = [touched[r] for r in view.loc[hit, "row"]]
        return view

    def _d(self, ts: int) -> str:
        return iso_offset(int(ts), self.tz)

    def _midnight(self, ts: int) -> str:
        text = self._d(ts)
        return f"{text[:10]}T00:00:00{text[19:]}"

    # -- deals ---------------------------------------------------------------------------
    def _deal_view(self) -> pd.DataFrame:
        def build(clock: int) -> pd.DataFrame:
            st = self.world.leads()
            L = self.c.leads
            rows = np.flatnonzero(
                self.is_b24 & st["visible"].to_numpy() & ~st["deleted"].to_numpy()
            )
            stage = st["stage"].to_numpy()[rows]
            client = L["client"].to_numpy()[rows]
            return pd.DataFrame(
                {
                    "row": rows,
                    "ID": L["crm_id"].to_numpy()[rows],
                    "CATEGORY_ID": self.category[stage],
                    "STAGE_ID": self.stage_ids[stage],
                    "STAGE_SEMANTIC_ID": self.semantic[stage],
                    "DATE_CREATE": L["created_at"].to_numpy()[rows],
                    "DATE_MODIFY": st["updated_at"].to_numpy()[rows],
                    "MOVED_TIME": st["moved_at"].to_numpy()[rows],
                    "CLOSED": np.where(st["closed"].to_numpy()[rows], "Y", "N"),
                    "ASSIGNED_BY_ID": self.user_ids[L["manager"].to_numpy()[rows]],
                    "OPPORTUNITY": st["price"].to_numpy()[rows].astype(float),
                    "COMPANY_ID": self.c.clients["company_id"].to_numpy()[client],
                    "CONTACT_ID": self.c.clients["contact_id"].to_numpy()[client],
                    "SOURCE_ID": np.array([s.bitrix_id for s in SOURCES], dtype=object)[
                        L["source"].to_numpy()[rows]
                    ],
                    "TYPE_ID": "SALE",
                    "stage": stage,
                }
            )

        view = self.world.cached("b24.deals", build)
        p = self.faults.on("deletions")
        if p is not None:
            k = int(p["every"])
            view = view[view["row"].to_numpy() % k != k - 1]
        return self._touch("b24.deals", view, "DATE_MODIFY")

    def _deals_table(self) -> Table:
        types = {
            "ID": "int",
            "CATEGORY_ID": "int",
            "STAGE_ID": "str",
            "STAGE_SEMANTIC_ID": "str",
            "DATE_CREATE": "date",
            "DATE_MODIFY": "date",
            "MOVED_TIME": "date",
            "CLOSED": "str",
            "ASSIGNED_BY_ID": "int",
            "OPPORTUNITY": "float",
            "COMPANY_ID": "int",
            "CONTACT_ID": "int",
            "SOURCE_ID": "str",
            "TYPE_ID": "str",
        }
        spec = defects.RecordSpec(
            id="ID",
            created=["DATE_CREATE"],
            shift=defects.shift_text("iso"),
            stage=["STAGE_ID"],
            unknown_stage="C9:UNKNOWN",
            retype={"OPPORTUNITY": lambda v: float(v) if isinstance(v, str) else v},
        )
        return Table(
            self._deal_view, types, self._deal, spec, uf=("UF_CRM_PROJECT", "UF_CRM_RATING")
        )

    def _deal(self, r: Any) -> dict[str, Any]:
        L = self.c.leads
        i = int(r.row)
        client = int(col(L, "client")[i])
        project = PROJECTS[int(col(L, "project")[i])]
        closed = r.CLOSED == "Y"
        uid = str(int(r.ASSIGNED_BY_ID))
        planned = int(r.DATE_CREATE) + 30 * 86_400
        return {
            "ID": str(int(r.ID)),
            "TITLE": f"{project.name}: {col(self.c.clients, 'name')[client]}",
            "TYPE_ID": "SALE",
            "STAGE_ID": r.STAGE_ID,
            "PROBABILITY": None,
            "CURRENCY_ID": "RUB",
            "OPPORTUNITY": f"{r.OPPORTUNITY:.2f}",
            "IS_MANUAL_OPPORTUNITY": "Y",
            "TAX_VALUE": "0.00",
            "LEAD_ID": None,
            "COMPANY_ID": str(int(r.COMPANY_ID)),
            "CONTACT_ID": str(int(r.CONTACT_ID)),
            "QUOTE_ID": None,
            "BEGINDATE": self._midnight(int(r.DATE_CREATE)),
            "CLOSEDATE": self._d(int(r.MOVED_TIME) if closed else planned),
            "ASSIGNED_BY_ID": uid,
            "CREATED_BY_ID": uid,
            "MODIFY_BY_ID": uid,
            "DATE_CREATE": self._d(r.DATE_CREATE),
            "DATE_MODIFY": self._d(r.DATE_MODIFY),
            "OPENED": "Y",
            "CLOSED": r.CLOSED,
            "COMMENTS": None,
            "ADDITIONAL_INFO": None,
            "LOCATION_ID": None,
            "CATEGORY_ID": str(int(r.CATEGORY_ID)),
            "STAGE_SEMANTIC_ID": r.STAGE_SEMANTIC_ID,
            "IS_NEW": "Y" if STAGE_POS[int(r.stage)] == 0 else "N",
            "IS_RECURRING": "N",
            "IS_RETURN_CUSTOMER": "Y" if bool(col(L, "repeat")[i]) else "N",
            "IS_REPEATED_APPROACH": "N",
            "SOURCE_ID": r.SOURCE_ID,
            "SOURCE_DESCRIPTION": None,
            "ORIGINATOR_ID": None,
            "ORIGIN_ID": None,
            "MOVED_BY_ID": uid,
            "MOVED_TIME": self._d(r.MOVED_TIME),
            "LAST_ACTIVITY_TIME": self._d(r.DATE_MODIFY),
            "LAST_ACTIVITY_BY": uid,
            "UTM_SOURCE": None,
            "UTM_MEDIUM": None,
            "UTM_CAMPAIGN": None,
            "UTM_CONTENT": None,
            "UTM_TERM": None,
            "UF_CRM_PROJECT": project.name,
            "UF_CRM_RATING": RATINGS[int(col(L, "rating")[i])],
        }

    def deal_get(self, params: dict) -> dict:
        view = self._deal_view()
        hit = view[view["ID"] == self._coerce(params.get("id", params.get("ID", -1)), "int")]
        if hit.empty:
            raise ApiError(400, "", "Not found")
        return {"result": self._deal(next(hit.itertuples()))}

    # -- stage history -------------------------------------------------------------------
    def _history_table(self) -> Table:
        h = self.c.crm.b24_history

        def view() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                rows = np.flatnonzero(h["at"].to_numpy() <= clock)
                stage = h["stage"].to_numpy()[rows]
                return pd.DataFrame(
                    {
                        "row": rows,
                        "ID": h["id"].to_numpy()[rows],
                        "TYPE_ID": h["type_id"].to_numpy()[rows],
                        "OWNER_ID": self.c.leads["crm_id"].to_numpy()[h["lead"].to_numpy()[rows]],
                        "CREATED_TIME": h["at"].to_numpy()[rows],
                        "CATEGORY_ID": self.category[stage],
                        "STAGE_ID": self.stage_ids[stage],
                        "STAGE_SEMANTIC_ID": self.semantic[stage],
                    }
                )

            return self.world.cached("b24.history", build)

        def render(r: Any) -> dict:
            return {
                "ID": int(r.ID),
                "TYPE_ID": int(r.TYPE_ID),
                "OWNER_ID": int(r.OWNER_ID),
                "CREATED_TIME": self._d(r.CREATED_TIME),
                "CATEGORY_ID": int(r.CATEGORY_ID),
                "STAGE_SEMANTIC_ID": r.STAGE_SEMANTIC_ID,
                "STAGE_ID": r.STAGE_ID,
            }

        types = {
            "ID": "int",
            "TYPE_ID": "int",
            "OWNER_ID": "int",
            "CREATED_TIME": "date",
            "CATEGORY_ID": "int",
            "STAGE_ID": "str",
            "STAGE_SEMANTIC_ID": "str",
        }
        spec = defects.RecordSpec(
            id="ID",
            created=["CREATED_TIME"],
            shift=defects.shift_text("iso"),
            stage=["STAGE_ID"],
            unknown_stage="C9:UNKNOWN",
        )
        return Table(view, types, render, spec, wrap="items")

    # -- telephony and activities --------------------------------------------------------
    def _calls_table(self) -> Table:
        vox = self.c.crm.b24_calls
        calls = self.c.calls

        def view() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                call = vox["call"].to_numpy()
                finish = (calls["start"] + calls["wait"] + calls["talk"]).to_numpy()[call]
                rows = np.flatnonzero(finish <= clock)
                c = call[rows]
                return pd.DataFrame(
                    {
                        "row": rows,
                        "ID": vox["id"].to_numpy()[rows],
                        "CALL_START_DATE": calls["start"].to_numpy()[c],
                        "CALL_TYPE": np.where(calls["inbound"].to_numpy()[c], 2, 1),
                        "PORTAL_USER_ID": self.user_ids[calls["manager"].to_numpy()[c]],
                        "CALL_DURATION": calls["talk"].to_numpy()[c],
                        "PHONE_NUMBER": calls["phone"].to_numpy()[c].astype(str),
                        "CRM_ACTIVITY_ID": vox["activity"].to_numpy()[rows],
                    }
                )

            return self.world.cached("b24.calls", build)

        def render(r: Any) -> dict:
            i = int(r.row)
            c = int(col(vox, "call")[i])
            start = int(r.CALL_START_DATE)
            uis_id = int(col(calls, "uis_id")[c])
            answered = bool(col(calls, "answered")[c])
            reason = FINISH_REASONS[int(col(calls, "finish_reason")[c])]
            inbound = bool(col(calls, "inbound")[c])
            code = (
                "200"
                if answered
                else ("304" if inbound else ("486" if reason == "subscriber_busy" else "603"))
            )
            failed = {"200": "", "304": "Missed call", "486": "Busy", "603": "Call declined"}[code]
            activity = int(r.CRM_ACTIVITY_ID)
            lead = int(col(calls, "lead")[c])
            contact = (
                str(int(col(self.c.clients, "contact_id")[int(col(self.c.leads, "client")[lead])]))
                if activity > 0 and lead >= 0
                else ""
            )
            digest = hashlib.md5(str(uis_id).encode()).hexdigest()
            return {
                "ID": str(int(r.ID)),
                "CALL_ID": f"externalCall.{digest}.{start}",
                "EXTERNAL_CALL_ID": str(uis_id),
                "CALL_CATEGORY": "external",
                "PORTAL_USER_ID": str(int(r.PORTAL_USER_ID)),
                "PORTAL_NUMBER": "uis",
                "PHONE_NUMBER": r.PHONE_NUMBER,
                "CALL_DURATION": str(int(r.CALL_DURATION)),
                "CALL_START_DATE": self._d(start),
                "CALL_RECORD_URL": f"https://app.uiscom.ru/system/media/talk/{uis_id}/record.mp3"
                if answered
                else "",
                "CALL_VOTE": None,
                "COST": "0.0000",
                "COST_CURRENCY": "",
                "CALL_FAILED_CODE": code,
                "CALL_FAILED_REASON": failed,
                "CRM_ENTITY_TYPE": "CONTACT" if contact else "",
                "CRM_ENTITY_ID": contact,
                "CRM_ACTIVITY_ID": str(activity) if activity > 0 else None,
                "REST_APP_ID": "3",
                "REST_APP_NAME": "UIS",
                "TRANSCRIPT_ID": None,
                "TRANSCRIPT_PENDING": "N",
                "SESSION_ID": None,
                "REDIAL_ATTEMPT": None,
                "COMMENT": None,
                "RECORD_DURATION": str(int(r.CALL_DURATION)) if answered else None,
                "RECORD_FILE_ID": 9000 + int(r.ID) if answered else None,
                "CALL_TYPE": str(int(r.CALL_TYPE)),
            }

        types = {
            "ID": "int",
            "CALL_START_DATE": "date",
            "CALL_TYPE": "int",
            "PORTAL_USER_ID": "int",
            "CALL_DURATION": "int",
            "PHONE_NUMBER": "str",
            "CRM_ACTIVITY_ID": "int",
        }
        spec = defects.RecordSpec(
            id="ID",
            created=["CALL_START_DATE"],
            shift=defects.shift_text("iso"),
            durations=["CALL_DURATION"],
            negate=lambda v: f"-{int(v) + 1}" if isinstance(v, str) else v,
        )
        return Table(view, types, render, spec)

    def _activities_table(self) -> Table:
        acts = self.c.crm.b24_activities
        calls = self.c.calls

        def view() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                rows = np.flatnonzero(acts["at"].to_numpy() <= clock)
                lead = acts["lead"].to_numpy()[rows]
                end = acts["end"].to_numpy()[rows]
                at = acts["at"].to_numpy()[rows]
                done = end <= clock
                return pd.DataFrame(
                    {
                        "row": rows,
                        "ID": acts["id"].to_numpy()[rows],
                        "OWNER_TYPE_ID": 2,
                        "OWNER_ID": self.c.leads["crm_id"].to_numpy()[lead],
                        "TYPE_ID": acts["type_id"].to_numpy()[rows],
                        "CREATED": np.maximum(
                            at, np.where(acts["type_id"].to_numpy()[rows] == 2, end, at)
                        ),
                        "LAST_UPDATED": np.where(done, np.maximum(end, at), at),
                        "START_TIME": at,
                        "END_TIME": end,
                        "COMPLETED": np.where(done, "Y", "N"),
                        "RESPONSIBLE_ID": self.user_ids[self.c.leads["manager"].to_numpy()[lead]],
                    }
                )

            return self._touch(
                "b24.activities", self.world.cached("b24.activities", build), "LAST_UPDATED"
            )

        def render(r: Any) -> dict:
            i = int(r.row)
            call = int(col(acts, "call")[i])
            is_call = call >= 0
            inbound = is_call and bool(col(calls, "inbound")[call])
            phone = f"+{int(col(calls, 'phone')[call])}" if is_call else ""
            lead = int(col(acts, "lead")[i])
            contact = int(col(self.c.clients, "contact_id")[int(col(self.c.leads, "client")[lead])])
            uid = str(int(r.RESPONSIBLE_ID))
            origin = None
            if is_call:
                uis_id = int(col(calls, "uis_id")[call])
                digest = hashlib.md5(str(uis_id).encode()).hexdigest()
                origin = f"VI_externalCall.{digest}.{int(col(calls, 'start')[call])}"
            return {
                "ID": str(int(r.ID)),
                "OWNER_ID": str(int(r.OWNER_ID)),
                "OWNER_TYPE_ID": "2",
                "TYPE_ID": str(int(r.TYPE_ID)),
                "PROVIDER_ID": "VOXIMPLANT_CALL" if is_call else "CRM_MEETING",
                "PROVIDER_TYPE_ID": "CALL" if is_call else "MEETING",
                "PROVIDER_GROUP_ID": None,
                "ASSOCIATED_ENTITY_ID": "0",
                "CALENDAR_EVENT_ID": None,
                "SUBJECT": (("Входящий" if inbound else "Исходящий") + f" звонок {phone}")
                if is_call
                else "Встреча с клиентом",
                "CREATED": self._d(r.CREATED),
                "LAST_UPDATED": self._d(r.LAST_UPDATED),
                "START_TIME": self._d(r.START_TIME),
                "END_TIME": self._d(r.END_TIME),
                "DEADLINE": self._d(r.END_TIME),
                "COMPLETED": r.COMPLETED,
                "STATUS": "2" if r.COMPLETED == "Y" else "1",
                "RESPONSIBLE_ID": uid,
                "PRIORITY": "2",
                "NOTIFY_TYPE": "0",
                "NOTIFY_VALUE": "0",
                "DESCRIPTION": "",
                "DESCRIPTION_TYPE": "1",
                "DIRECTION": ("1" if inbound else "2") if is_call else "0",
                "LOCATION": "",
                "SETTINGS": [],
                "ORIGINATOR_ID": None,
                "ORIGIN_ID": origin,
                "AUTHOR_ID": uid,
                "EDITOR_ID": uid,
                "COMMUNICATIONS": [
                    {
                        "ID": str(i + 1),
                        "TYPE": "PHONE" if is_call else "",
                        "VALUE": phone,
                        "ENTITY_ID": str(contact),
                        "ENTITY_TYPE_ID": "3",
                    }
                ],
            }

        types = {
            "ID": "int",
            "OWNER_TYPE_ID": "int",
            "OWNER_ID": "int",
            "TYPE_ID": "int",
            "CREATED": "date",
            "LAST_UPDATED": "date",
            "START_TIME": "date",
            "END_TIME": "date",
            "COMPLETED": "str",
            "RESPONSIBLE_ID": "int",
        }
        spec = defects.RecordSpec(id="ID", created=["CREATED"], shift=defects.shift_text("iso"))
        return Table(view, types, render, spec, uf=())

    # -- contacts, companies, requisites, users ------------------------------------------
    def _client_view(self, name: str) -> Callable[[], pd.DataFrame]:
        cl = self.c.clients

        def view() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                rows = np.flatnonzero(
                    (cl["crm"].to_numpy() == BITRIX24) & (cl["created_at"].to_numpy() <= clock)
                )
                edit = cl["edit_at"].to_numpy()[rows]
                created = cl["created_at"].to_numpy()[rows]
                return pd.DataFrame(
                    {
                        "row": rows,
                        "ID": cl["contact_id" if name == "contacts" else "company_id"].to_numpy()[
                            rows
                        ],
                        "DATE_CREATE": created,
                        "DATE_MODIFY": np.where((edit >= 0) & (edit <= clock), edit, created),
                        "ASSIGNED_BY_ID": self.user_ids[self.client_manager[rows]],
                        "COMPANY_ID": cl["company_id"].to_numpy()[rows],
                    }
                )

            return self.world.cached(f"b24.{name}", build)

        return view

    def _contacts_table(self) -> Table:
        cl = self.c.clients

        def render(r: Any) -> dict:
            i = int(r.row)
            first, last = person_name(5000 + i)
            return {
                "ID": str(int(r.ID)),
                "NAME": first,
                "LAST_NAME": last,
                "SECOND_NAME": None,
                "TYPE_ID": "CLIENT",
                "SOURCE_ID": None,
                "COMPANY_ID": str(int(r.COMPANY_ID)),
                "ASSIGNED_BY_ID": str(int(r.ASSIGNED_BY_ID)),
                "DATE_CREATE": self._d(r.DATE_CREATE),
                "DATE_MODIFY": self._d(r.DATE_MODIFY),
                "HAS_PHONE": "Y",
                "HAS_EMAIL": "N",
                "OPENED": "Y",
                "EXPORT": "Y",
                "PHONE": [
                    {
                        "ID": str(100 + i),
                        "VALUE_TYPE": "WORK",
                        "VALUE": f"+{int(col(cl, 'phone')[i])}",
                        "TYPE_ID": "PHONE",
                    }
                ],
            }

        types = {
            "ID": "int",
            "DATE_CREATE": "date",
            "DATE_MODIFY": "date",
            "ASSIGNED_BY_ID": "int",
            "COMPANY_ID": "int",
        }
        return Table(
            self._client_view("contacts"),
            types,
            render,
            defects.RecordSpec(id="ID", created=["DATE_CREATE"], shift=defects.shift_text("iso")),
        )

    def _companies_table(self) -> Table:
        cl = self.c.clients

        def render(r: Any) -> dict:
            i = int(r.row)
            return {
                "ID": str(int(r.ID)),
                "TITLE": col(cl, "name")[i],
                "COMPANY_TYPE": "CUSTOMER",
                "INDUSTRY": "OTHER",
                "ASSIGNED_BY_ID": str(int(r.ASSIGNED_BY_ID)),
                "DATE_CREATE": self._d(r.DATE_CREATE),
                "DATE_MODIFY": self._d(r.DATE_MODIFY),
                "OPENED": "Y",
                "UF_CRM_RATING": RATINGS[int(col(cl, "rating")[i])],
            }

        types = {"ID": "int", "DATE_CREATE": "date", "DATE_MODIFY": "date", "ASSIGNED_BY_ID": "int"}
        return Table(
            self._client_view("companies"),
            types,
            render,
            defects.RecordSpec(id="ID", created=["DATE_CREATE"], shift=defects.shift_text("iso")),
            uf=("UF_CRM_RATING",),
        )

    def _requisites_table(self) -> Table:
        cl = self.c.clients
        base = self._client_view("companies")

        def view() -> pd.DataFrame:
            v = base().copy()
            v["ENTITY_ID"] = v["ID"]
            v["ENTITY_TYPE_ID"] = 4
            return v

        def render(r: Any) -> dict:
            i = int(r.row)
            individual = bool(col(cl, "individual")[i])
            return {
                "ID": str(int(r.ID)),
                "ENTITY_TYPE_ID": "4",
                "ENTITY_ID": str(int(r.ID)),
                "PRESET_ID": "2" if individual else "1",
                "NAME": "Реквизиты",
                "ACTIVE": "Y",
                "DATE_CREATE": self._d(r.DATE_CREATE),
                "RQ_COMPANY_NAME": col(cl, "name")[i],
                "RQ_INN": col(cl, "inn")[i],
                "RQ_KPP": None if individual else f"{col(cl, 'inn')[i][:4]}01001",
            }

        types = {"ID": "int", "ENTITY_ID": "int", "ENTITY_TYPE_ID": "int", "DATE_CREATE": "date"}
        return Table(view, types, render, defects.RecordSpec(id="ID"))

    def _users_table(self) -> Table:
        mgr = self.c.managers
        b24 = np.flatnonzero(mgr["crm"].to_numpy() == BITRIX24)

        def view() -> pd.DataFrame:
            return pd.DataFrame(
                {
                    "row": np.r_[-1, b24],
                    "ID": np.r_[self.user_id, self.user_ids[b24]],
                    "ACTIVE": "Y",
                }
            )

        def render(r: Any) -> dict:
            row = int(r.row)
            first, last = (
                ("Администратор", "")
                if row < 0
                else (col(mgr, "first_name")[row], col(mgr, "last_name")[row])
            )
            return {
                "ID": str(int(r.ID)),
                "XML_ID": None,
                "ACTIVE": True,
                "NAME": first,
                "LAST_NAME": last,
                "SECOND_NAME": "",
                "EMAIL": f"user{int(r.ID)}@funnelhouse.example",
                "LAST_LOGIN": None,
                "DATE_REGISTER": self._d(self.c.cfg.start_ts - 300 * 86_400),
                "IS_ONLINE": "N",
                "TIME_ZONE": "",
                "TIME_ZONE_OFFSET": "0",
                "TIMESTAMP_X": None,
                "PERSONAL_GENDER": "",
                "WORK_POSITION": "Менеджер" if row >= 0 else "",
                "UF_DEPARTMENT": [1 if row < 0 else 3],
                "USER_TYPE": "employee",
            }

        return Table(view, {"ID": "int", "ACTIVE": "str"}, render, defects.RecordSpec(id="ID"))

    # -- directories ---------------------------------------------------------------------
    def status_list(self, params: dict) -> dict:
        rows: list[dict] = []
        n = 0
        for sort, s in enumerate(SOURCES):
            n += 1
            rows.append(
                {
                    "ID": str(n),
                    "ENTITY_ID": "SOURCE",
                    "STATUS_ID": s.bitrix_id,
                    "NAME": s.name,
                    "NAME_INIT": s.name if not s.bitrix_id.isdigit() else "",
                    "SORT": str(10 * (sort + 1)),
                    "SYSTEM": "N" if s.bitrix_id.isdigit() else "Y",
                    "CATEGORY_ID": None,
                    "COLOR": None,
                    "SEMANTICS": None,
                    "EXTRA": None,
                }
            )
        for p in PIPELINES:
            if p.crm != BITRIX24:
                continue
            entity = "DEAL_STAGE" if p.id == 0 else f"DEAL_STAGE_{p.id}"
            for sort, st in enumerate(p.stages):
                n += 1
                sem = {"won": "S", "lost": "F"}.get(st.kind)
                extra = (
                    "success"
                    if st.kind == "won"
                    else (
                        "apology"
                        if "APOLOGY" in str(st.id)
                        else "failure"
                        if st.kind == "lost"
                        else "process"
                    )
                )
                color = {"S": "#7BD500", "F": "#FF5752"}.get(sem or "", "#39A8EF")
                rows.append(
                    {
                        "ID": str(n),
                        "ENTITY_ID": entity,
                        "STATUS_ID": str(st.id),
                        "NAME": st.name,
                        "NAME_INIT": st.name if st.kind != "open" else "",
                        "SORT": str(10 * (sort + 1)),
                        "SYSTEM": "Y" if st.kind != "open" else "N",
                        "CATEGORY_ID": str(p.id),
                        "COLOR": color,
                        "SEMANTICS": sem,
                        "EXTRA": {"SEMANTICS": extra, "COLOR": color},
                    }
                )
        flt = params.get("filter") or {}
        if isinstance(flt, dict):
            for k, v in flt.items():
                rows = [r for r in rows if str(r.get(k.lstrip("="))) == str(v)]
        return {"result": rows, "total": len(rows)}

    def category_list(self, params: dict) -> dict:
        if str(params.get("entityTypeId", "")) != "2":
            raise ApiError(400, "NOT_FOUND", "Smart process not found")
        cats = [
            {
                "id": p.id,
                "name": p.name,
                "sort": 100 * (i + 1),
                "entityTypeId": 2,
                "isDefault": "Y" if p.id == 0 else "N",
                "originId": "",
                "originatorId": "",
            }
            for i, p in enumerate(x for x in PIPELINES if x.crm == BITRIX24)
        ]
        return {"result": {"categories": cats}, "total": len(cats)}


def _error(status: int, code: str, description: str) -> Response:
    return Response(
        status,
        dumps({"error": code, "error_description": description}, ascii_only=True),
        "application/json; charset=utf-8",
    )


def _time(started: float, tz: str) -> dict[str, Any]:
    now = time.time()
    return {
        "start": round(started, 6),
        "finish": round(now, 6),
        "duration": round(now - started, 6),
        "processing": round(now - started, 6),
        "date_start": iso_offset(int(started), tz),
        "date_finish": iso_offset(int(now), tz),
        "operating_reset_at": int(now) + 600,
        "operating": 0,
    }
