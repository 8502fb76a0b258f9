"""amoCRM REST API v4 emulator (Bearer token, hal+json, page/limit paging, 204 past the end).

Confirmed behaviour reproduced (SOURCE_APIS.md §1): the `{_page, _links, _embedded}` envelope,
no `_links.next` on the last page, HTTP 204 with an empty body past the end or when a filter
matches nothing, no total count, limit ≤ 250 (events ≤ 100, the RU docs' value), unix-second
timestamps, 142/143 in every pipeline, `with=only_deleted`, call notes carrying the PBX call id
in `params.uniq`, a non-JSON 429 over 7 requests a second, problem+json errors.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.calls import FINISH_REASONS
from funnelhouse.simulator.company.crm import EV_STATUS
from funnelhouse.simulator.company.deals import STAGE_INDEX, STAGE_KIND
from funnelhouse.simulator.company.directory import (
    AMOCRM,
    LOSS_REASONS,
    PIPELINES,
    PROJECTS,
    RATINGS,
    SOURCES,
    person_name,
)
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.base import Emulator, Request, Response, dumps, html_page
from funnelhouse.simulator.emulators.params import as_list, nest
from funnelhouse.simulator.emulators.world import World, col

ACCOUNT_ID = 31_234_567
ADMIN_ID = 5_120_000
MAX_LIMIT, EVENTS_MAX_LIMIT, DEFAULT_LIMIT = 250, 100, 50
HAL = "application/hal+json"
PROBLEM = "application/problem+json"
CF_SOURCE, CF_PROJECT, CF_RATING, CF_PHONE, CF_EMAIL, CF_INN = (
    1_278_898_021,
    1_278_898_023,
    1_278_898_025,
    264_911,
    264_913,
    264_917,
)
CALL_RESULT = {4: "Разговор состоялся", 6: "Не дозвонились", 7: "Занято", 3: "Нет на месте"}
_ULID = "0123456789abcdefghjkmnpqrstvwxyz"


def status_of(stage_code: int) -> tuple[int, int]:
    """(status_id, pipeline_id) of a global stage code."""
    p, s = STAGE_INDEX[stage_code]
    if PIPELINES[p].crm != AMOCRM:
        return -1, -1
    return int(PIPELINES[p].stages[s].id), PIPELINES[p].id


STATUS = np.array([status_of(s) for s in range(len(STAGE_INDEX))])


def event_id(at: int, seq: int) -> str:
    """A ULID-like lowercase string id, as amoCRM's events have (time part + random part)."""
    value = (at * 1000 + seq % 1000) << 80 | int.from_bytes(
        hashlib.blake2b(seq.to_bytes(8, "big"), digest_size=10).digest(), "big"
    )
    return "".join(_ULID[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


class SlidingWindow:
    """At most `n` requests in any one second."""

    def __init__(self, n: float):
        self.n = n
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= self.n:
                return False
            self._times.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._times.clear()


def problem(status: int, title: str, detail: str, extra: dict | None = None) -> Response:
    body = {
        **(extra or {}),
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
    }
    return Response(status, dumps(body, ascii_only=True), PROBLEM)


def validation_error(path: str, detail: str) -> Response:
    errors = [
        {"request_id": "0", "errors": [{"code": "InvalidValue", "path": path, "detail": detail}]}
    ]
    return problem(400, "Bad Request", "Request validation failed", {"validation-errors": errors})


def _range(spec: Any) -> tuple[float, float] | None:
    """`filter[x]=ts` (exact) or `filter[x][from]=..&filter[x][to]=..` (inclusive)."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        lo = float(spec["from"]) if spec.get("from", "") != "" else -np.inf
        hi = float(spec["to"]) if spec.get("to", "") != "" else np.inf
        return lo, hi
    v = float(as_list(spec)[0])
    return v, v


class AmoCrm(Emulator):
    name = AMOCRM

    def __init__(
        self,
        world: World,
        *,
        token: str,
        rate_per_second: float = 7.0,
        rate_multiplier: float = 1.0,
        faults: dict | None = None,
    ):
        super().__init__(world, rate_multiplier=rate_multiplier, faults=faults)
        self.token = token
        self.rate_per_second = rate_per_second * rate_multiplier
        self.window = SlidingWindow(self.rate_per_second)
        self._list_requests: dict[str, int] = {}
        c = world.company
        self.c = c
        self.is_amo = c.leads["crm"].to_numpy() == AMOCRM
        first = np.full(len(c.clients), -1)
        client = c.leads["client"].to_numpy()
        first[client[::-1]] = np.arange(len(c.leads))[::-1]
        self.client_manager = c.leads["manager"].to_numpy()[first]
        self.user_ids = c.managers["user_id"].to_numpy()
        self.routes: list[tuple[re.Pattern, Callable[[Request, dict, re.Match], Response]]] = [
            (re.compile(r"^/api/v4/leads/?$"), self.leads),
            (re.compile(r"^/api/v4/leads/(\d+)$"), self.lead),
            (re.compile(r"^/api/v4/leads/pipelines/?$"), self.pipelines),
            (re.compile(r"^/api/v4/leads/pipelines/(\d+)$"), self.pipeline),
            (re.compile(r"^/api/v4/leads/pipelines/(\d+)/statuses$"), self.statuses),
            (re.compile(r"^/api/v4/leads/loss_reasons/?$"), self.loss_reasons),
            (re.compile(r"^/api/v4/events/?$"), self.events),
            (re.compile(r"^/api/v4/(leads|contacts|companies|customers)/notes/?$"), self.notes),
            (re.compile(r"^/api/v4/(leads|contacts|companies)/(\d+)/notes/?$"), self.notes),
            (re.compile(r"^/api/v4/users/?$"), self.users),
            (re.compile(r"^/api/v4/contacts/?$"), self.contacts),
            (re.compile(r"^/api/v4/companies/?$"), self.companies),
            (re.compile(r"^/api/v4/tasks/?$"), self.tasks),
            (re.compile(r"^/api/v4/account/?$"), self.account),
        ]

    # -- plumbing ------------------------------------------------------------------------
    def endpoint(self, req: Request) -> str:
        return re.sub(r"/\d+", "/{id}", req.path)

    def authorize(self, req: Request) -> Response | None:
        if req.headers.get("authorization", "") != f"Bearer {self.token}":
            return problem(401, "Unauthorized", "Authorization required (invalid or expired token)")
        return None

    def limit(self, req: Request) -> Response | None:
        return None if self.window.allow() else html_page(429)

    def reset_limits(self) -> None:
        self.window.reset()
        self._list_requests.clear()

    def describe(self) -> dict[str, Any]:
        return {"rate_limit": f"{self.rate_per_second:g} requests/s"}

    def fail(self, status: int, req: Request) -> Response:
        if status == 500:
            return problem(500, "Internal Server Error", "Internal Server Error")
        return html_page(status)  # 429 is not JSON (the SDK relies on that); 503 from nginx

    def handle(self, req: Request) -> Response:
        if req.method != "GET":
            return problem(405, "Method Not Allowed", "This emulator serves reads only")
        for pattern, fn in self.routes:
            m = pattern.match(req.path)
            if m:
                return fn(req, nest(req.query), m)
        return problem(404, "Not Found", f"Unknown path {req.path}")

    def url(self, path: str, query: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
        q = f"?{urlencode(query)}" if query else ""
        return {"self": {"href": f"{self.base_url}{path}{q}"}}

    # -- listing -------------------------------------------------------------------------
    def _page(
        self,
        req: Request,
        params: dict,
        key: str,
        view: pd.DataFrame,
        order_fields: tuple[str, ...],
        serialize: Callable[[pd.DataFrame], list[dict]],
        spec: defects.RecordSpec,
        max_limit: int = MAX_LIMIT,
    ) -> Response:
        try:
            page = int(params.get("page", 1))
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except (TypeError, ValueError):
            return validation_error("page", "page and limit must be integers")
        if (limit > max_limit and not self.bulk) or limit < 1:
            return validation_error("limit", f"limit must be between 1 and {max_limit}")
        if page < 1:
            return validation_error("page", "page must be positive")
        order = params.get("order") or {}
        cols, asc = ["id"], [True]
        if isinstance(order, dict) and order:
            field, direction = next(iter(order.items()))
            if field not in order_fields or str(direction).lower() not in ("asc", "desc"):
                return validation_error(f"order.{field}", "unsupported order")
            cols, asc = [field, "id"], [str(direction).lower() == "asc"] * 2
        view = view.sort_values(cols, ascending=asc, kind="stable")
        overlap = self.faults.on("duplicate_pages")
        lo = (page - 1) * limit
        hi = lo + limit
        if overlap and page > 1:
            d = int(overlap["overlap"])
            lo, hi = max(0, lo - d * (page - 1)), hi - d * (page - 1)
        rows = view.iloc[lo:hi]
        if rows.empty:
            return Response(204, b"", None)
        records = defects.apply(serialize(rows), rows["row"].tolist(), self.faults, spec)
        query = [(k, v) for k, v in req.query if k != "page"]
        links = {
            "self": {"href": f"{self.base_url}{req.path}?{urlencode([*query, ('page', page)])}"}
        }
        if hi < len(view):
            links["next"] = {
                "href": f"{self.base_url}{req.path}?{urlencode([*query, ('page', page + 1)])}"
            }
        body = {"_page": page, "_links": links, "_embedded": {key: records}}
        return Response(200, dumps(body, ascii_only=True), HAL, is_data=True)

    def _touch(self, stream: str, view: pd.DataFrame, field: str = "updated_at") -> pd.DataFrame:
        """The update_while_paging fault: re-save the oldest records on every later request."""
        p = self.faults.on("update_while_paging")
        touched = self.world.touched.get(stream, {})
        if p is not None:
            n = self._list_requests.get(stream, 0)
            self._list_requests[stream] = n + 1
            if n > 0:
                fresh = view[~view["row"].isin(list(touched))]
                oldest = fresh.sort_values([field, "id"], kind="stable").head(int(p["count"]))
                self.world.touch(stream, oldest["row"].tolist())
                touched = self.world.touched.get(stream, {})
        if touched:
            view = view.copy()
            hit = view["row"].isin(list(touched)).to_numpy()
            view.loc[hit, field] = [touched[r] for r in view.loc[hit, "row"]]
        return view

    @staticmethod
    def _filter_range(view: pd.DataFrame, field: str, spec: Any) -> pd.DataFrame:
        rng = _range(spec)
        if rng is None:
            return view
        col = view[field].to_numpy()
        return view[(col >= rng[0]) & (col <= rng[1])]

    @staticmethod
    def _filter_in(view: pd.DataFrame, field: str, spec: Any) -> pd.DataFrame:
        values = as_list(spec)
        if not values:
            return view
        return view[view[field].isin([int(v) for v in values])]

    # -- leads ---------------------------------------------------------------------------
    def _lead_view(self) -> pd.DataFrame:
        def build(clock: int) -> pd.DataFrame:
            st = self.world.leads()
            L = self.c.leads
            mask = self.is_amo & st["visible"].to_numpy()
            rows = np.flatnonzero(mask)
            stage = st["stage"].to_numpy()[rows]
            status = STATUS
            return pd.DataFrame(
                {
                    "row": rows,
                    "id": L["crm_id"].to_numpy()[rows],
                    "created_at": L["created_at"].to_numpy()[rows],
                    "updated_at": st["updated_at"].to_numpy()[rows],
                    "status_id": status[stage, 0],
                    "pipeline_id": status[stage, 1],
                    "responsible_user_id": self.user_ids[L["manager"].to_numpy()[rows]],
                    "deleted": st["deleted"].to_numpy()[rows],
                    "closed_at": np.where(
                        st["closed"].to_numpy()[rows], st["moved_at"].to_numpy()[rows], -1
                    ),
                    "price": st["price"].to_numpy()[rows],
                }
            )

        view = self.world.cached("amo.leads", build)
        p = self.faults.on("deletions")
        if p is not None:
            k = int(p["every"])
            hit = (view["row"].to_numpy() % k == k - 1) & ~view["deleted"].to_numpy()
            if hit.any():
                view = view.copy()
                view.loc[hit, "deleted"] = True
                view.loc[hit, "updated_at"] = self.world.clock
        return view

    def leads(self, req: Request, params: dict, m: re.Match) -> Response:
        with_ = set(as_list(params.get("with", "")))
        view = self._touch("amo.leads", self._lead_view())
        only_deleted = "only_deleted" in with_
        view = view[view["deleted"] == only_deleted]
        f = params.get("filter") or {}
        if isinstance(f, dict):
            view = self._filter_in(view, "id", f.get("id"))
            view = self._filter_range(view, "updated_at", f.get("updated_at"))
            view = self._filter_range(view, "created_at", f.get("created_at"))
            view = self._filter_range(view, "closed_at", f.get("closed_at"))
            view = self._filter_in(view, "pipeline_id", f.get("pipeline_id"))
            view = self._filter_in(view, "responsible_user_id", f.get("responsible_user_id"))
            if f.get("statuses"):
                pairs = {
                    (int(s.get("pipeline_id", 0)), int(s.get("status_id", 0)))
                    for s in as_list(f["statuses"])
                    if isinstance(s, dict)
                }
                keys = list(zip(view["pipeline_id"], view["status_id"], strict=True))
                view = view[[k in pairs for k in keys]]
        return self._page(
            req,
            params,
            "leads",
            view,
            ("created_at", "updated_at", "id"),
            lambda rows: [self._lead(r, with_) for r in rows.itertuples()],
            self._lead_spec,
        )

    def lead(self, req: Request, params: dict, m: re.Match) -> Response:
        view = self._lead_view()
        hit = view[(view["id"] == int(m.group(1))) & ~view["deleted"]]
        if hit.empty:
            return Response(204, b"", None)
        rec = self._lead(next(hit.itertuples()), set(as_list(params.get("with", ""))))
        return Response(200, dumps(rec, ascii_only=True), HAL, is_data=True)

    _lead_spec = defects.RecordSpec(
        id="id",
        created=["created_at"],
        stage=["status_id"],
        retype={"price": lambda v: str(v) if isinstance(v, int) else v},
    )

    def _lead(self, r: Any, with_: set[str]) -> dict:
        L = self.c.leads
        i = int(r.row)
        client = int(col(L, "client")[i])
        cl = self.c.clients
        project = PROJECTS[int(col(L, "project")[i])]
        source = SOURCES[int(col(L, "source")[i])]
        unsorted = STAGE_KIND[self.world.leads()["stage"].iat[i]] == "unsorted"
        creator = (
            0 if unsorted or (source.kind != "cold" and i % 3 == 0) else int(r.responsible_user_id)
        )
        closed = int(r.closed_at) if r.closed_at >= 0 else None
        lost = r.status_id == 143
        reason = int(col(L, "loss_reason")[i]) if lost and col(L, "loss_reason")[i] >= 0 else None
        rec: dict[str, Any] = {
            "id": int(r.id),
            "name": f"{project.name}: {col(cl, 'name')[client]}",
            "price": int(r.price),
            "responsible_user_id": int(r.responsible_user_id),
            "group_id": 0,
            "status_id": int(r.status_id),
            "pipeline_id": int(r.pipeline_id),
            "loss_reason_id": reason,
            "created_by": creator,
            "updated_by": int(r.responsible_user_id),
            "created_at": int(r.created_at),
            "updated_at": int(r.updated_at),
            "closed_at": closed,
            "closest_task_at": None,
            "is_deleted": bool(r.deleted),
            "custom_fields_values": [
                _select(CF_SOURCE, "Источник", source.name, source.amo_enum),
                _select(CF_PROJECT, "Проект", project.name, 5000 + PROJECTS.index(project)),
                _select(
                    CF_RATING,
                    "Рейтинг клиента",
                    RATINGS[int(col(L, "rating")[i])],
                    6000 + int(col(L, "rating")[i]),
                ),
            ],
            "score": None,
            "account_id": ACCOUNT_ID,
            "labor_cost": None,
            "_links": self.url(f"/api/v4/leads/{int(r.id)}"),
        }
        if "source_id" in with_:
            rec["source_id"] = 100 + SOURCES.index(source) if source.kind == "hot" else None
        if "is_price_modified_by_robot" in with_:
            rec["is_price_modified_by_robot"] = False
        emb: dict[str, Any] = {
            "tags": [],
            "companies": [
                {
                    "id": int(col(cl, "company_id")[client]),
                    "_links": self.url(f"/api/v4/companies/{int(col(cl, 'company_id')[client])}"),
                }
            ],
        }
        if "contacts" in with_:
            cid = int(col(cl, "contact_id")[client])
            emb["contacts"] = [
                {"id": cid, "is_main": True, "_links": self.url(f"/api/v4/contacts/{cid}")}
            ]
        if "loss_reason" in with_:
            emb["loss_reason"] = [_loss_reason(self, reason)] if reason else []
        if "catalog_elements" in with_:
            emb["catalog_elements"] = []
        rec["_embedded"] = emb
        return rec

    # -- directories ---------------------------------------------------------------------
    def _pipeline(self, pipe_index: int) -> dict:
        pipe = PIPELINES[pipe_index]
        statuses = []
        for sort, st in enumerate(pipe.stages):
            statuses.append(
                {
                    "id": st.id,
                    "name": st.name,
                    "sort": 10 * (sort + 1) if st.kind != "lost" else 10000,
                    "is_editable": st.kind in ("open",),
                    "pipeline_id": pipe.id,
                    "color": [
                        "#99ccff",
                        "#fffeb2",
                        "#ffcc66",
                        "#ffce5a",
                        "#deff81",
                        "#87f2c0",
                        "#ccff66",
                        "#CCFF66",
                        "#D5D8DB",
                    ][sort % 9],
                    "type": 1 if st.kind == "unsorted" else 0,
                    "account_id": ACCOUNT_ID,
                    "_links": self.url(f"/api/v4/leads/pipelines/{pipe.id}/statuses/{st.id}"),
                }
            )
        return {
            "id": pipe.id,
            "name": pipe.name,
            "sort": 1 + pipe_index,
            "is_main": pipe.is_main,
            "is_unsorted_on": True,
            "is_archive": False,
            "account_id": ACCOUNT_ID,
            "_links": self.url(f"/api/v4/leads/pipelines/{pipe.id}"),
            "_embedded": {"statuses": statuses},
        }

    def pipelines(self, req: Request, params: dict, m: re.Match) -> Response:
        items = [self._pipeline(i) for i, p in enumerate(PIPELINES) if p.crm == AMOCRM]
        body = {
            "_total_items": len(items),
            "_links": self.url("/api/v4/leads/pipelines"),
            "_embedded": {"pipelines": items},
        }
        return Response(200, dumps(body, ascii_only=True), HAL, is_data=True)

    def pipeline(self, req: Request, params: dict, m: re.Match) -> Response:
        for i, p in enumerate(PIPELINES):
            if p.crm == AMOCRM and p.id == int(m.group(1)):
                return Response(200, dumps(self._pipeline(i), ascii_only=True), HAL, is_data=True)
        return problem(404, "Not Found", "Pipeline not found")

    def statuses(self, req: Request, params: dict, m: re.Match) -> Response:
        for i, p in enumerate(PIPELINES):
            if p.crm == AMOCRM and p.id == int(m.group(1)):
                sts = self._pipeline(i)["_embedded"]["statuses"]
                body = {
                    "_total_items": len(sts),
                    "_links": self.url(req.path),
                    "_embedded": {"statuses": sts},
                }
                return Response(200, dumps(body, ascii_only=True), HAL, is_data=True)
        return problem(404, "Not Found", "Pipeline not found")

    def loss_reasons(self, req: Request, params: dict, m: re.Match) -> Response:
        view = pd.DataFrame({"row": range(len(LOSS_REASONS)), "id": [r[0] for r in LOSS_REASONS]})
        return self._page(
            req,
            params,
            "loss_reasons",
            view,
            ("id",),
            lambda rows: [_loss_reason(self, int(i)) for i in rows["id"]],
            defects.RecordSpec(id="id"),
        )

    def users(self, req: Request, params: dict, m: re.Match) -> Response:
        mgr = self.c.managers
        amo = np.flatnonzero(mgr["crm"].to_numpy() == AMOCRM)
        view = pd.DataFrame({"row": np.r_[-1, amo], "id": np.r_[ADMIN_ID, self.user_ids[amo]]})

        def user(row: int, uid: int) -> dict:
            if row < 0:
                name, email, admin = "Администратор", "admin@funnelhouse.example", True
            else:
                name = f"{col(mgr, 'first_name')[row]} {col(mgr, 'last_name')[row]}"
                email, admin = f"manager{row + 1}@funnelhouse.example", False
            return {
                "id": uid,
                "name": name,
                "email": email,
                "lang": "ru",
                "rights": {
                    "leads": {"view": "A", "edit": "A", "add": "A", "delete": "A"},
                    "is_admin": admin,
                    "is_free": False,
                    "is_active": True,
                    "group_id": None,
                    "role_id": None,
                },
                "uuid": None,
                "amojo_id": hashlib.md5(str(uid).encode()).hexdigest(),
                "_links": self.url(f"/api/v4/users/{uid}"),
            }

        return self._page(
            req,
            params,
            "users",
            view,
            ("id",),
            lambda rows: [user(int(r.row), int(r.id)) for r in rows.itertuples()],
            defects.RecordSpec(id="id"),
        )

    def account(self, req: Request, params: dict, m: re.Match) -> Response:
        body = {
            "id": ACCOUNT_ID,
            "name": "Funnelhouse Demo",
            "subdomain": "funnelhouse-demo",
            "created_at": self.c.cfg.start_ts - 400 * 86_400,
            "created_by": ADMIN_ID,
            "current_user_id": ADMIN_ID,
            "country": "RU",
            "currency": "RUB",
            "currency_symbol": "₽",
            "is_unsorted_on": True,
            "mobile_feature_version": 0,
            "customers_mode": "disabled",
            "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False,
            "is_technical_account": False,
            "contact_name_display_order": 1,
            "_links": self.url("/api/v4/account"),
        }
        return Response(200, dumps(body, ascii_only=True), HAL, is_data=True)

    # -- events --------------------------------------------------------------------------
    def events(self, req: Request, params: dict, m: re.Match) -> Response:
        ev = self.c.crm.amo_events
        rows = self.world.visible_rows("amo.events", ev["at"].to_numpy())
        lead = ev["lead"].to_numpy()[rows]
        types = np.array(["lead_added", "lead_status_changed", "lead_deleted"])[
            ev["type"].to_numpy()[rows]
        ]
        after = ev["after"].to_numpy()[rows]
        status = STATUS
        view = pd.DataFrame(
            {
                "row": rows,
                "id": ev["seq"].to_numpy()[rows],
                "created_at": ev["at"].to_numpy()[rows],
                "entity_id": self.c.leads["crm_id"].to_numpy()[lead],
                "type": types,
                "created_by": self.user_ids[self.c.leads["manager"].to_numpy()[lead]],
                "after_status": np.where(after >= 0, status[np.maximum(after, 0), 0], -1),
                "after_pipeline": np.where(after >= 0, status[np.maximum(after, 0), 1], -1),
            }
        )
        f = params.get("filter") or {}
        if isinstance(f, dict):
            if f.get("type"):
                view = view[view["type"].isin(as_list(f["type"]))]
            ent = as_list(f.get("entity"))
            if ent and not {"lead", "leads"} & set(ent):
                view = view.iloc[0:0]
            view = self._filter_in(view, "entity_id", f.get("entity_id"))
            view = self._filter_in(view, "created_by", f.get("created_by"))
            view = self._filter_range(view, "created_at", f.get("created_at"))
            va = f.get("value_after")
            if isinstance(va, dict) and va.get("leads_statuses"):
                pairs = {
                    (int(s.get("pipeline_id", 0)), int(s.get("status_id", 0)))
                    for s in as_list(va["leads_statuses"])
                    if isinstance(s, dict)
                }
                keys = zip(view["after_pipeline"], view["after_status"], strict=True)
                view = view[[k in pairs for k in keys]]
        # The stage sits inside value_after[0].lead_status, so _event breaks it itself.
        spec = defects.RecordSpec(id="id", created=["created_at"])
        return self._page(
            req,
            params,
            "events",
            view,
            ("created_at", "id"),
            lambda rows: [self._event(r) for r in rows.itertuples()],
            spec,
            max_limit=EVENTS_MAX_LIMIT,
        )

    def _event(self, r: Any) -> dict:
        ev = self.c.crm.amo_events
        i = int(r.row)
        t = int(col(ev, "type")[i])
        eid = event_id(int(r.created_at), int(r.id))

        def status(code: int) -> list[dict]:
            if code < 0:
                return []
            sid, pid = status_of(code)
            bad = self.faults.on("unknown_stage_ids")
            if bad is not None and i % int(bad["every"]) == int(bad["every"]) - 1:
                sid = 99_999_999
            return [{"lead_status": {"id": sid, "pipeline_id": pid}}]

        # lead_added and lead_deleted carry no status values in this emulator.
        before = status(int(col(ev, "before")[i])) if t == EV_STATUS else []
        after = status(int(col(ev, "after")[i])) if t == EV_STATUS else []
        return {
            "id": eid,
            "type": r.type,
            "entity_id": int(r.entity_id),
            "entity_type": "lead",
            "created_by": int(r.created_by),
            "created_at": int(r.created_at),
            "value_after": after,
            "value_before": before,
            "account_id": ACCOUNT_ID,
            "_links": self.url(f"/api/v4/events/{eid}"),
        }

    # -- notes ---------------------------------------------------------------------------
    def notes(self, req: Request, params: dict, m: re.Match) -> Response:
        entity = m.group(1)
        nt = self.c.crm.amo_notes
        if entity != "leads":
            view = pd.DataFrame({"row": [], "id": [], "updated_at": []})
            return self._page(
                req, params, "notes", view, ("id",), lambda rows: [], defects.RecordSpec(id="id")
            )
        rows = self.world.visible_rows("amo.notes", nt["at"].to_numpy())
        lead = nt["lead"].to_numpy()[rows]
        st = self._lead_view()
        alive = pd.Series(~st["deleted"].to_numpy(), index=st["row"].to_numpy())
        keep = alive.reindex(lead).fillna(False).to_numpy(dtype=bool)
        rows, lead = rows[keep], lead[keep]
        view = pd.DataFrame(
            {
                "row": rows,
                "id": nt["id"].to_numpy()[rows],
                "updated_at": nt["at"].to_numpy()[rows],
                "created_at": nt["at"].to_numpy()[rows],
                "entity_id": self.c.leads["crm_id"].to_numpy()[lead],
                "note_type": nt["note_type"].to_numpy()[rows],
            }
        )
        if m.lastindex and m.lastindex >= 2:
            view = view[view["entity_id"] == int(m.group(2))]
        view = self._touch("amo.notes", view)
        f = params.get("filter") or {}
        if isinstance(f, dict):
            if f.get("note_type"):
                view = view[view["note_type"].isin(as_list(f["note_type"]))]
            view = self._filter_in(view, "id", f.get("id"))
            view = self._filter_in(view, "entity_id", f.get("entity_id"))
            view = self._filter_range(view, "updated_at", f.get("updated_at"))
        spec = defects.RecordSpec(
            id="id",
            created=["created_at"],
            durations=["params.duration"],
            retype={"params.duration": lambda v: str(v)},
        )
        return self._page(
            req,
            params,
            "notes",
            view,
            ("updated_at", "id"),
            lambda rows: [self._note(r) for r in rows.itertuples()],
            spec,
        )

    def _note(self, r: Any) -> dict:
        nt = self.c.crm.amo_notes
        calls = self.c.calls
        i = int(r.row)
        lead = int(col(nt, "lead")[i])
        user = int(self.user_ids[int(col(self.c.leads, "manager")[lead])])
        rec: dict[str, Any] = {
            "id": int(r.id),
            "entity_id": int(r.entity_id),
            "created_by": user,
            "updated_by": user,
            "created_at": int(r.created_at),
            "updated_at": int(r.updated_at),
            "responsible_user_id": user,
            "group_id": 0,
            "note_type": r.note_type,
        }
        call = int(col(nt, "call")[i])
        if call >= 0:
            answered = bool(col(calls, "answered")[call])
            uis_id = int(col(calls, "uis_id")[call])
            reason = FINISH_REASONS[int(col(calls, "finish_reason")[call])]
            status = 4 if answered else (7 if reason == "subscriber_busy" else 6)
            duration: Any = int(col(calls, "talk")[call])
            if bool(col(nt, "duration_as_text")[i]):
                duration = str(duration)
            caller = int(self.user_ids[int(col(calls, "manager")[call])])
            rec["created_by"] = rec["updated_by"] = caller
            rec["params"] = {
                "uniq": str(uis_id),
                "duration": duration,
                "source": "uiscom",
                "link": f"https://app.uiscom.ru/system/media/talk/{uis_id}/record.mp3"
                if answered
                else "",
                "phone": f"+{int(col(calls, 'phone')[call])}",
                "call_result": CALL_RESULT[status],
                "call_status": status,
                "call_responsible": caller,
            }
        else:
            rec["params"] = {
                "text": (
                    "Клиент просит перезвонить",
                    "Отправил презентацию",
                    "Уточнить бюджет",
                    "Ждём решения руководства",
                )[i % 4]
            }
        rec["account_id"] = ACCOUNT_ID
        rec["_links"] = self.url(f"/api/v4/leads/{int(r.entity_id)}/notes/{int(r.id)}")
        return rec

    # -- contacts, companies, tasks ------------------------------------------------------
    def _client_view(self, stream: str, id_col: str) -> pd.DataFrame:
        cl = self.c.clients

        def build(clock: int) -> pd.DataFrame:
            rows = np.flatnonzero(
                (cl["crm"].to_numpy() == AMOCRM) & (cl["created_at"].to_numpy() <= clock)
            )
            edit = cl["edit_at"].to_numpy()[rows]
            created = cl["created_at"].to_numpy()[rows]
            return pd.DataFrame(
                {
                    "row": rows,
                    "id": cl[id_col].to_numpy()[rows],
                    "created_at": created,
                    "updated_at": np.where((edit >= 0) & (edit <= clock), edit, created),
                    "responsible_user_id": self.user_ids[self.client_manager[rows]],
                }
            )

        return self._touch(stream, self.world.cached(stream, build))

    def _entity_list(
        self, req: Request, params: dict, key: str, view: pd.DataFrame, ser: Callable[[Any], dict]
    ) -> Response:
        f = params.get("filter") or {}
        if isinstance(f, dict):
            view = self._filter_in(view, "id", f.get("id"))
            view = self._filter_range(view, "updated_at", f.get("updated_at"))
            view = self._filter_range(view, "created_at", f.get("created_at"))
            view = self._filter_in(view, "responsible_user_id", f.get("responsible_user_id"))
            if "is_completed" in f and "is_completed" in view:
                view = view[view["is_completed"] == (str(f["is_completed"]) in ("1", "true"))]
            if "entity_id" in f and "entity_id" in view:
                view = self._filter_in(view, "entity_id", f.get("entity_id"))
        spec = defects.RecordSpec(id="id", created=["created_at"])
        return self._page(
            req,
            params,
            key,
            view,
            ("created_at", "updated_at", "id", "complete_till"),
            lambda rows: [ser(r) for r in rows.itertuples()],
            spec,
        )

    def contacts(self, req: Request, params: dict, m: re.Match) -> Response:
        cl = self.c.clients

        def ser(r: Any) -> dict:
            i = int(r.row)
            first, last = person_name(5000 + i)
            cid = int(col(cl, "company_id")[i])
            return {
                "id": int(r.id),
                "name": f"{first} {last}",
                "first_name": first,
                "last_name": last,
                "responsible_user_id": int(r.responsible_user_id),
                "group_id": 0,
                "created_by": int(r.responsible_user_id),
                "updated_by": int(r.responsible_user_id),
                "created_at": int(r.created_at),
                "updated_at": int(r.updated_at),
                "closest_task_at": None,
                "is_deleted": False,
                "is_unsorted": False,
                "custom_fields_values": [
                    {
                        "field_id": CF_PHONE,
                        "field_name": "Телефон",
                        "field_code": "PHONE",
                        "field_type": "multitext",
                        "values": [
                            {
                                "value": f"+{int(col(cl, 'phone')[i])}",
                                "enum_id": 130_131,
                                "enum_code": "WORK",
                            }
                        ],
                    },
                    {
                        "field_id": CF_EMAIL,
                        "field_name": "Email",
                        "field_code": "EMAIL",
                        "field_type": "multitext",
                        "values": [
                            {
                                "value": f"client{i}@example.ru",
                                "enum_id": 130_143,
                                "enum_code": "WORK",
                            }
                        ],
                    },
                ]
                if i % 23
                else None,
                "account_id": ACCOUNT_ID,
                "_links": self.url(f"/api/v4/contacts/{int(r.id)}"),
                "_embedded": {
                    "tags": [],
                    "companies": [{"id": cid, "_links": self.url(f"/api/v4/companies/{cid}")}],
                },
            }

        return self._entity_list(
            req, params, "contacts", self._client_view("amo.contacts", "contact_id"), ser
        )

    def companies(self, req: Request, params: dict, m: re.Match) -> Response:
        cl = self.c.clients

        def ser(r: Any) -> dict:
            i = int(r.row)
            rating = int(col(cl, "rating")[i])
            return {
                "id": int(r.id),
                "name": col(cl, "name")[i],
                "responsible_user_id": int(r.responsible_user_id),
                "group_id": 0,
                "created_by": int(r.responsible_user_id),
                "updated_by": int(r.responsible_user_id),
                "created_at": int(r.created_at),
                "updated_at": int(r.updated_at),
                "closest_task_at": None,
                "is_deleted": False,
                "custom_fields_values": [
                    {
                        "field_id": CF_INN,
                        "field_name": "ИНН",
                        "field_code": None,
                        "field_type": "text",
                        "values": [{"value": col(cl, "inn")[i]}],
                    },
                    _select(CF_RATING + 100, "Рейтинг", RATINGS[rating], 7000 + rating),
                ],
                "account_id": ACCOUNT_ID,
                "_links": self.url(f"/api/v4/companies/{int(r.id)}"),
                "_embedded": {"tags": []},
            }

        return self._entity_list(
            req, params, "companies", self._client_view("amo.companies", "company_id"), ser
        )

    def tasks(self, req: Request, params: dict, m: re.Match) -> Response:
        tk = self.c.crm.amo_tasks

        def build(clock: int) -> pd.DataFrame:
            rows = np.flatnonzero(tk["at"].to_numpy() <= clock)
            done = tk["done_at"].to_numpy()[rows]
            completed = (done >= 0) & (done <= clock)
            lead = tk["lead"].to_numpy()[rows]
            return pd.DataFrame(
                {
                    "row": rows,
                    "id": tk["id"].to_numpy()[rows],
                    "created_at": tk["at"].to_numpy()[rows],
                    "updated_at": np.where(completed, done, tk["at"].to_numpy()[rows]),
                    "is_completed": completed,
                    "complete_till": tk["till"].to_numpy()[rows],
                    "entity_id": self.c.leads["crm_id"].to_numpy()[lead],
                    "responsible_user_id": self.user_ids[self.c.leads["manager"].to_numpy()[lead]],
                }
            )

        view = self._touch("amo.tasks", self.world.cached("amo.tasks", build))

        def ser(r: Any) -> dict:
            i = int(r.row)
            ttype = int(col(tk, "type")[i])
            return {
                "id": int(r.id),
                "created_by": int(r.responsible_user_id),
                "updated_by": int(r.responsible_user_id),
                "created_at": int(r.created_at),
                "updated_at": int(r.updated_at),
                "responsible_user_id": int(r.responsible_user_id),
                "group_id": 0,
                "entity_id": int(r.entity_id),
                "entity_type": "leads",
                "is_completed": bool(r.is_completed),
                "task_type_id": ttype,
                "text": "Позвонить клиенту" if ttype == 1 else "Встреча с клиентом",
                "duration": 0 if ttype == 1 else 3600,
                "complete_till": int(r.complete_till),
                "result": {"text": "Выполнено"} if r.is_completed else [],
                "account_id": ACCOUNT_ID,
                "_links": self.url(f"/api/v4/tasks/{int(r.id)}"),
            }

        return self._entity_list(req, params, "tasks", view, ser)


def _select(field_id: int, name: str, value: str, enum_id: int) -> dict:
    return {
        "field_id": field_id,
        "field_name": name,
        "field_code": None,
        "field_type": "select",
        "values": [{"value": value, "enum_id": enum_id}],
    }


def _loss_reason(emu: AmoCrm, reason_id: int | None) -> dict:
    for sort, (rid, name, _) in enumerate(LOSS_REASONS):
        if rid == reason_id:
            start = emu.c.cfg.start_ts - 200 * 86_400
            return {
                "id": rid,
                "name": name,
                "sort": 10 * (sort + 1),
                "created_at": start,
                "updated_at": start,
                "_links": emu.url(f"/api/v4/leads/loss_reasons/{rid}"),
            }
    return {}
