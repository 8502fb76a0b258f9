"""The Bitrix24 HTTP side: webhook auth, the leaky bucket, methods, batch, paging and errors.

A list method is a `listing.Table` from an entity module; the router filters, orders, pages
(50, `start`, `next`, `total`) and selects its rows, and runs batch commands through the
same dispatch.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pandas as pd

from funnelhouse.simulator.company.directory import BITRIX24
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.base import Emulator, Request, Response, dumps
from funnelhouse.simulator.emulators.bitrix24 import (
    activities,
    calls,
    clients,
    deals,
    directory,
    history,
    listing,
    products,
    users,
)
from funnelhouse.simulator.emulators.bitrix24.errors import JSON, ApiError, error
from funnelhouse.simulator.emulators.limits import LeakyBucket
from funnelhouse.simulator.emulators.params import nest
from funnelhouse.simulator.emulators.timefmt import iso_offset
from funnelhouse.simulator.emulators.world import World, client_managers

PAGE = 50
MAX_BATCH = 50
TABLES: dict[str, listing.Table] = {
    "crm.deal.list": deals.TABLE,
    "crm.stagehistory.list": history.TABLE,
    "voximplant.statistic.get": calls.TABLE,
    "crm.activity.list": activities.TABLE,
    "crm.contact.list": clients.CONTACTS,
    "crm.company.list": clients.COMPANIES,
    "crm.requisite.list": clients.REQUISITES,
    "user.get": users.TABLE,
    "crm.item.productrow.list": products.TABLE,
}
UPPER = ("voximplant.statistic.get", "user.get")  # FILTER / SORT / ORDER in upper case


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
        self.live_deals: products.LiveDeals | None = None  # products.live_deals() keeps it
        self.is_b24 = self.c.leads["crm"].to_numpy() == BITRIX24
        self.user_ids = self.c.managers["user_id"].to_numpy()
        self.client_manager = client_managers(self.c)
        self.methods: dict[str, Callable[[dict], dict]] = {
            "crm.status.list": directory.status_list,
            "crm.category.list": directory.category_list,
            "crm.deal.get": lambda p: deals.get(self, p),
            "profile": lambda p: users.profile(self, p),
        }

    # -- plumbing ------------------------------------------------------------------------
    def endpoint(self, req: Request) -> str:
        return req.path.rsplit("/", 1)[-1].removesuffix(".json")

    def authorize(self, req: Request) -> Response | None:
        m = re.match(r"^/rest/(\d+)/([^/]+)/([\w.]+?)(\.json)?$", req.path)
        if not m or int(m.group(1)) != self.user_id or m.group(2) != self.code:
            return error(401, "NO_AUTH_FOUND", "Wrong authorization data")
        return None

    def limit(self, req: Request) -> Response | None:
        if self.bucket.allow():
            return None
        return error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")

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
            return error(
                429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
            )
        if status == 503:
            return error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        return error(500, "INTERNAL_SERVER_ERROR", "Internal server error")

    def handle(self, req: Request) -> Response:
        method = self.endpoint(req)
        try:
            params = self._params(req)
        except ValueError:
            return error(400, "INVALID_REQUEST", "Could not parse the request body")
        started = time.time()
        try:
            body = self.batch(params) if method == "batch" else self.call(method, params)
        except ApiError as exc:
            return exc.response()
        body["time"] = _time(started, self.tz)
        return Response(200, dumps(body, ascii_only=True), JSON, is_data=True)

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

    # -- for the entity modules ----------------------------------------------------------
    def date(self, ts: int) -> str:
        """A unix time as the portal writes it: ISO 8601 with the portal's offset."""
        return iso_offset(int(ts), self.tz)

    def midnight(self, ts: int) -> str:
        text = self.date(ts)
        return f"{text[:10]}T00:00:00{text[19:]}"

    def touch(self, stream: str, view: pd.DataFrame, field: str) -> pd.DataFrame:
        return defects.resave_while_paging(
            self.world, self.faults, self._list_requests, stream, view, field, "ID"
        )

    # -- methods -------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method in TABLES:
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

    def _list(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        table = TABLES[method]
        if method == "crm.stagehistory.list":
            et = str(params.get("entityTypeId", ""))
            if et not in ("1", "2"):
                raise ApiError(
                    400, "ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {et or '?'} is not supported"
                )
        upper = method in UPPER
        flt = params.get("FILTER" if upper else "filter", params.get("filter", {}))
        if flt in (None, "", []):
            flt = {}
        if method == "crm.item.productrow.list":  # one deal's rows, not a scan of all of them
            view = products.view(self, products.owner_of(flt, self.tz))
        else:
            view = table.view(self)
        if method == "crm.stagehistory.list" and str(params.get("entityTypeId")) == "1":
            view = view.iloc[0:0]  # no Bitrix24 leads in this company: deals are created directly
        if not isinstance(flt, dict):
            raise ApiError(400, "", "Parameter 'filter' must be array.")
        if method == "crm.item.productrow.list":
            products.check_owner(self, flt)
        view = listing.filtered(view, flt, table.types, self.tz)
        view = listing.ordered(view, params, upper, table.types)
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
        records = [table.render(self, r) for r in rows.itertuples()]
        records = defects.apply(records, rows["row"].tolist(), self.faults, table.spec)
        records = [listing.selected(r, params.get("select"), table.uf) for r in records]
        result: Any = {table.wrap: records} if table.wrap else records
        body: dict[str, Any] = {"result": result, "total": total}
        if nxt is not None:
            body["next"] = nxt
        return body


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
