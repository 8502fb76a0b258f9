"""The 1C OData HTTP side: Basic auth, entity-set paths, query options, records, errors.

Entity sets come from `catalogs.py` and `documents.py`; this module filters, orders and
slices their frames, renders records (selected properties, tabular sections, navigation
links, record-level faults) and wraps them as JSON or, via `service.py`, XML.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.people import inn
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.base import Emulator, Request, Response, dumps
from funnelhouse.simulator.emulators.odata import ODataSyntaxError, UnknownProperty, evaluate
from funnelhouse.simulator.emulators.onec import catalogs, documents, service
from funnelhouse.simulator.emulators.onec.entity import Entity, data_version, guid_strings
from funnelhouse.simulator.emulators.world import World

JSON = "application/json;charset=utf-8"
XML = "application/xml;charset=utf-8"


def odata_error(status: int, code: int, message: str) -> Response:
    body = {"odata.error": {"code": str(code), "message": {"lang": "ru", "value": message}}}
    return Response(status, dumps(body), JSON)


class OneC(Emulator):
    name = "onec"

    def __init__(
        self,
        world: World,
        *,
        user: str,
        password: str,
        infobase: str = "accounting",
        rate_multiplier: float = 1.0,
        faults: dict | None = None,
    ):
        super().__init__(world, rate_multiplier=rate_multiplier, faults=faults)
        self.user, self.password, self.infobase = user, password, infobase
        self.prefix = f"/{infobase}/odata/standard.odata"
        self.c = world.company
        self.tz = self.c.cfg.onec_tz
        self._list_requests: dict[str, int] = {}
        a = self.c.onec
        self.guids = {
            k: guid_strings(t["guid"].to_numpy(), t["guid_hi"].to_numpy())
            for k, t in (
                ("cp", a.counterparties),
                ("ct", a.contracts),
                ("s", a.sales),
                ("p", a.payments),
            )
        }
        other = a.counterparties["other"].to_numpy()
        self.other_inn = inn(
            np.arange(other.max() + 1) + 5_000_000,
            np.zeros(other.max() + 1, bool),
            np.random.default_rng(self.c.cfg.seed + 1),
        )
        names = self.c.cfg.onec_entities
        self.entities: dict[str, Entity] = {
            e.name: e
            for e in (
                catalogs.counterparties(self, names.counterparties),
                catalogs.contracts(self, names.contracts),
                documents.sales(self, names.sales),
                documents.payments(self, names.payments),
            )
        }

    # -- plumbing ------------------------------------------------------------------------
    def endpoint(self, req: Request) -> str:
        return re.sub(r"\(guid'[^']*'\)", "(guid)", req.path.removeprefix(self.prefix)) or "/"

    def authorize(self, req: Request) -> Response | None:
        header = req.headers.get("authorization", "")
        ok = False
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode("utf-8").partition(":")
                ok = user == self.user and pw == self.password
            except (ValueError, UnicodeDecodeError):
                ok = False
        if ok:
            return None
        return Response(401, b"", None, [("WWW-Authenticate", 'Basic realm="1C:Enterprise"')])

    def reset_limits(self) -> None:
        self._list_requests.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "rate_limit": "none (1C documents none)",
            "timezone": self.tz,
            "entity_sets": list(self.entities),
        }

    def fail(self, status: int, req: Request) -> Response:
        if status == 500:
            return odata_error(500, 0, "Внутренняя ошибка сервера")
        if status == 429:
            return Response(429, b"Too Many Requests", "text/plain")
        return super().fail(status, req)

    def handle(self, req: Request) -> Response:
        if not req.path.startswith(self.prefix):
            return Response(404, b"Not Found", "text/plain")
        if req.method != "GET":
            return odata_error(405, 0, "Эмулятор поддерживает только чтение")
        rest = req.path[len(self.prefix) :].strip("/")
        json_fmt = (req.arg("$format") or "").lower() in (
            "json",
            "application/json",
        ) or "application/json" in req.headers.get("accept", "")
        if rest == "":
            return self._service(json_fmt)
        if rest == "$metadata":
            return Response(200, service.metadata(self.entities.values()).encode(), XML)
        m = re.match(r"^([^(/]+)(?:\(guid'([0-9a-fA-F-]+)'\))?(/\$count)?$", rest)
        if not m or m.group(1) not in self.entities:
            return odata_error(404, 8, f"Не найден тип сущности: {rest.split('(')[0]}")
        entity = self.entities[m.group(1)]
        try:
            if m.group(3):
                frame = self._filtered(entity, req)
                return Response(
                    200, str(len(frame)).encode(), "text/plain;charset=utf-8", is_data=True
                )
            if m.group(2):
                return self._one(entity, m.group(2).lower(), json_fmt)
            return self._collection(entity, req, json_fmt)
        except UnknownProperty as exc:
            return odata_error(400, 10, f"Не найдено свойство: {exc}")
        except (ODataSyntaxError, ValueError) as exc:
            return odata_error(400, 14, f"Ошибка разбора параметров запроса: {exc}")

    @property
    def root(self) -> str:
        """The service root URL (links and xml:base point here)."""
        return f"{self.base_url}{self.prefix}"

    # -- queries -------------------------------------------------------------------------
    def _frame(self, entity: Entity) -> pd.DataFrame:
        frame = entity.frame()
        p = self.faults.on("deletions")
        if p is not None:
            k = int(p["every"])
            frame = frame[frame["row"].to_numpy() % k != k - 1]
        return self._touch(entity, frame)

    def _touch(self, entity: Entity, frame: pd.DataFrame) -> pd.DataFrame:
        """update_while_paging: objects re-saved between page requests get a new DataVersion."""
        p = self.faults.on("update_while_paging")
        stream = f"onec.{entity.name}"
        touched = self.world.touched.get(stream, {})
        if p is not None:
            n = self._list_requests.get(stream, 0)
            self._list_requests[stream] = n + 1
            if n > 0:
                fresh = frame[~frame["row"].isin(list(touched))]
                self.world.touch(stream, fresh["row"].head(int(p["count"])).tolist())
                touched = self.world.touched.get(stream, {})
        if touched:
            frame = frame.copy()
            hit = frame["row"].isin(list(touched)).to_numpy()
            frame.loc[hit, "DataVersion"] = data_version(
                np.array(
                    [900_000_000 + touched[r] % 100_000_000 + r for r in frame.loc[hit, "row"]]
                )
            )
        return frame

    def _filtered(self, entity: Entity, req: Request) -> pd.DataFrame:
        frame = self._frame(entity)
        flt = req.arg("$filter")
        if flt:
            frame = frame[evaluate(flt, frame).to_numpy()]
        return frame

    def _collection(self, entity: Entity, req: Request, json_fmt: bool) -> Response:
        frame = self._filtered(entity, req)
        order = req.arg("$orderby")
        if order:
            cols, asc = [], []
            for part in order.split(","):
                name, _, direction = part.strip().partition(" ")
                if name not in frame.columns:
                    raise UnknownProperty(name)
                cols.append(name)
                asc.append(direction.strip().lower() != "desc")
            frame = frame.sort_values(cols, ascending=asc, kind="stable")
        inline = (req.arg("$inlinecount") or "").lower() == "allpages"
        total = len(frame)
        if not inline:  # 42clouds: $inlinecount makes the server ignore $skip and $top
            skip = int(req.arg("$skip") or 0)
            top = req.arg("$top")
            dup = self.faults.on("duplicate_pages")
            if dup and skip > 0:
                skip = max(0, skip - int(dup["overlap"]))
            frame = frame.iloc[skip : skip + int(top)] if top is not None else frame.iloc[skip:]
        select = [s.strip() for s in (req.arg("$select") or "").split(",") if s.strip()]
        for s in select:
            if s not in entity.types and not (entity.table_types and s in entity.table_types):
                raise UnknownProperty(s)
        records = self._records(entity, frame, select)
        if not json_fmt:
            xml = service.atom(self.root, entity, records)
            return Response(200, xml.encode(), "application/atom+xml;type=feed;charset=utf-8")
        body: dict[str, Any] = {
            "odata.metadata": f"{self.base_url}{self.prefix}/$metadata#{entity.name}"
        }
        if inline:
            body["odata.count"] = str(total)
        body["value"] = records
        return Response(200, dumps(body), JSON, is_data=True)

    def _one(self, entity: Entity, key: str, json_fmt: bool) -> Response:
        frame = self._frame(entity)
        frame = frame[frame["Ref_Key"] == key]
        if frame.empty:
            return odata_error(404, 9, "Не найден экземпляр сущности")
        rec = self._records(entity, frame, [])[0]
        body = {
            "odata.metadata": f"{self.base_url}{self.prefix}/$metadata#{entity.name}/@Element",
            **rec,
        }
        return Response(200, dumps(body), JSON, is_data=True)

    def _records(self, entity: Entity, frame: pd.DataFrame, select: list[str]) -> list[dict]:
        props = [p for p in entity.types if not select or p in select]
        rows = frame["row"].tolist()
        scalars = frame[props].to_dict("records") if props else [{} for _ in rows]
        tables = entity.tabular(frame) if entity.tabular else {}
        out = []
        for i, rec in enumerate(scalars):
            for p, v in rec.items():
                if isinstance(v, float) and v.is_integer() and entity.types[p] == "Edm.Double":
                    rec[p] = int(v)  # 1C writes 150129, not 150129.0
                elif isinstance(v, np.bool_):
                    rec[p] = bool(v)
            for name, per_row in tables.items():
                if not select or name in select:
                    rec[name] = per_row[i]
            if not select:
                key = rec.get("Ref_Key")
                for link in entity.links:
                    rec[f"{link}@navigationLinkUrl"] = f"{entity.name}(guid'{key}')/{link}"
            out.append(rec)
        spec = defects.RecordSpec(
            id="Ref_Key",
            created=["Date"],
            shift=defects.shift_text("%Y-%m-%dT%H:%M:%S"),
            retype={"СуммаДокумента": lambda v: str(v)},
        )
        return defects.apply(out, rows, self.faults, spec)

    # -- documents of the service --------------------------------------------------------
    def _service(self, json_fmt: bool) -> Response:
        if json_fmt:
            body = {
                "odata.metadata": f"{self.base_url}{self.prefix}/$metadata",
                "value": [{"name": n, "url": n} for n in self.entities],
            }
            return Response(200, dumps(body), JSON, is_data=True)
        return Response(200, service.service(self.root, self.entities).encode(), XML)
