"""The amoCRM HTTP side: paths to handlers, the token, the rate limit, paging and errors.

Handlers take an entity module's rows as of the clock, filter them and page them into the
hal+json envelope; the entity modules render the records.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from funnelhouse.simulator.company.directory import AMOCRM
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.amocrm import (
    catalogs,
    clients,
    directory,
    events,
    filters,
    leads,
    notes,
    tasks,
)
from funnelhouse.simulator.emulators.base import Emulator, Request, Response, dumps, html_page
from funnelhouse.simulator.emulators.limits import SlidingWindow
from funnelhouse.simulator.emulators.params import nest
from funnelhouse.simulator.emulators.world import World, client_managers

MAX_LIMIT, EVENTS_MAX_LIMIT, DEFAULT_LIMIT = 250, 100, 50
ENTITY_ORDER = ("created_at", "updated_at", "id", "complete_till")
HAL = "application/hal+json"
PROBLEM = "application/problem+json"

Handler = Callable[[Request, dict, re.Match], Response]


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


def hal(body: dict) -> Response:
    return Response(200, dumps(body, ascii_only=True), HAL, is_data=True)


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
        self.client_manager = client_managers(c)
        self.user_ids = c.managers["user_id"].to_numpy()
        self.catalog_links = catalogs.links_by_lead(self)
        self.routes: list[tuple[re.Pattern, Handler]] = [
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
            (re.compile(r"^/api/v4/catalogs/?$"), self.catalogs),
            (re.compile(r"^/api/v4/catalogs/(\d+)/elements/?$"), self.catalog_elements),
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
        return hal(body)

    def _each(self, render: Callable[[AmoCrm, Any], dict]) -> Callable[[pd.DataFrame], list]:
        return lambda rows: [render(self, r) for r in rows.itertuples()]

    def _touch(self, stream: str, view: pd.DataFrame) -> pd.DataFrame:
        return defects.resave_while_paging(
            self.world, self.faults, self._list_requests, stream, view, "updated_at", "id"
        )

    # -- handlers ------------------------------------------------------------------------
    def leads(self, req: Request, params: dict, m: re.Match) -> Response:
        with_ = leads.with_of(params)
        view = self._touch("amo.leads", leads.view(self))
        view = view[view["deleted"] == ("only_deleted" in with_)]
        view = leads.filtered(view, params.get("filter") or {})

        def serialize(rows: pd.DataFrame) -> list[dict]:
            return [leads.render(self, r, with_) for r in rows.itertuples()]

        return self._page(req, params, "leads", view, leads.ORDER, serialize, leads.SPEC)

    def lead(self, req: Request, params: dict, m: re.Match) -> Response:
        view = leads.view(self)
        hit = view[(view["id"] == int(m.group(1))) & ~view["deleted"]]
        if hit.empty:
            return Response(204, b"", None)
        return hal(leads.render(self, next(hit.itertuples()), leads.with_of(params)))

    def pipelines(self, req: Request, params: dict, m: re.Match) -> Response:
        items = [directory.pipeline(self, i) for i in directory.amo_pipelines()]
        body = {
            "_total_items": len(items),
            "_links": self.url("/api/v4/leads/pipelines"),
            "_embedded": {"pipelines": items},
        }
        return hal(body)

    def pipeline(self, req: Request, params: dict, m: re.Match) -> Response:
        i = directory.pipeline_index(int(m.group(1)))
        if i is None:
            return problem(404, "Not Found", "Pipeline not found")
        return hal(directory.pipeline(self, i))

    def statuses(self, req: Request, params: dict, m: re.Match) -> Response:
        i = directory.pipeline_index(int(m.group(1)))
        if i is None:
            return problem(404, "Not Found", "Pipeline not found")
        sts = directory.pipeline(self, i)["_embedded"]["statuses"]
        body = {
            "_total_items": len(sts),
            "_links": self.url(req.path),
            "_embedded": {"statuses": sts},
        }
        return hal(body)

    def loss_reasons(self, req: Request, params: dict, m: re.Match) -> Response:
        return self._page(
            req,
            params,
            "loss_reasons",
            directory.loss_reason_view(),
            ("id",),
            lambda rows: [directory.loss_reason(self, int(i)) for i in rows["id"]],
            defects.RecordSpec(id="id"),
        )

    def users(self, req: Request, params: dict, m: re.Match) -> Response:
        return self._page(
            req,
            params,
            "users",
            directory.user_view(self),
            ("id",),
            lambda rows: [directory.user(self, int(r.row), int(r.id)) for r in rows.itertuples()],
            defects.RecordSpec(id="id"),
        )

    def account(self, req: Request, params: dict, m: re.Match) -> Response:
        return hal(directory.account(self))

    def catalogs(self, req: Request, params: dict, m: re.Match) -> Response:
        return self._page(
            req,
            params,
            "catalogs",
            pd.DataFrame({"row": [0], "id": [catalogs.CATALOG_ID]}),
            ("id",),
            lambda rows: [catalogs.catalog(self) for _ in range(len(rows))],
            defects.RecordSpec(id="id"),
        )

    def catalog_elements(self, req: Request, params: dict, m: re.Match) -> Response:
        if int(m.group(1)) != catalogs.CATALOG_ID:
            return problem(404, "Not Found", "Catalog not found")
        return self._page(
            req,
            params,
            "elements",
            catalogs.element_view(),
            ("id",),
            lambda rows: [catalogs.element(self, int(r)) for r in rows["row"]],
            defects.RecordSpec(id="id"),
        )

    def events(self, req: Request, params: dict, m: re.Match) -> Response:
        view = events.filtered(events.view(self), params.get("filter") or {})
        return self._page(
            req,
            params,
            "events",
            view,
            events.ORDER,
            self._each(events.render),
            events.SPEC,
            max_limit=EVENTS_MAX_LIMIT,
        )

    def notes(self, req: Request, params: dict, m: re.Match) -> Response:
        if m.group(1) != "leads":
            return self._page(
                req,
                params,
                "notes",
                notes.NONE,
                ("id",),
                lambda rows: [],
                defects.RecordSpec(id="id"),
            )
        view = notes.view(self, leads.view(self))
        if m.lastindex and m.lastindex >= 2:
            view = view[view["entity_id"] == int(m.group(2))]
        view = notes.filtered(self._touch("amo.notes", view), params.get("filter") or {})
        return self._page(
            req, params, "notes", view, notes.ORDER, self._each(notes.render), notes.SPEC
        )

    def contacts(self, req: Request, params: dict, m: re.Match) -> Response:
        view = self._touch("amo.contacts", clients.view(self, "amo.contacts", "contact_id"))
        return self._entities(req, params, "contacts", view, clients.contact)

    def companies(self, req: Request, params: dict, m: re.Match) -> Response:
        view = self._touch("amo.companies", clients.view(self, "amo.companies", "company_id"))
        return self._entities(req, params, "companies", view, clients.company)

    def tasks(self, req: Request, params: dict, m: re.Match) -> Response:
        view = self._touch("amo.tasks", tasks.view(self))
        return self._entities(req, params, "tasks", view, tasks.render)

    def _entities(
        self,
        req: Request,
        params: dict,
        key: str,
        view: pd.DataFrame,
        render: Callable[[AmoCrm, Any], dict],
    ) -> Response:
        f = params.get("filter") or {}
        if isinstance(f, dict):
            view = filters.common(view, f)
        spec = defects.RecordSpec(id="id", created=["created_at"])
        return self._page(req, params, key, view, ENTITY_ORDER, self._each(render), spec)
