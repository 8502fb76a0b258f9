"""1C:Enterprise standard OData (v3) emulator: counterparties, contracts, sales, bank receipts.

Confirmed behaviour reproduced (SOURCE_APIS.md §4): `/<infobase>/odata/standard.odata/<Set>`,
HTTP Basic auth, JSON only with `$format=json` (Atom XML otherwise), `{"odata.metadata",
"value"}` collections, `odata.count` as a string with `$inlinecount=allpages` (which, as the
42clouds manual says, makes the server ignore `$top`/`$skip`), no server-side paging, `$filter`
with v3 literals, `$select`, `$orderby`, `$top`, `$skip`, `$count`, `Set(guid'…')`,
`$metadata`, `odata.error` bodies, Int64 as strings, `_Key` references with
`@navigationLinkUrl`, the empty GUID and empty date, DataVersion changing on every write,
DeletionMark, tabular sections embedded with the parent Ref_Key and LineNumber, composite
references as `<Name>` + `<Name>_Type`, local time without offset.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import PROJECTS, company_name
from funnelhouse.simulator.company.people import inn
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.base import Emulator, Request, Response, dumps
from funnelhouse.simulator.emulators.odata import ODataSyntaxError, UnknownProperty, evaluate
from funnelhouse.simulator.emulators.timefmt import EMPTY_1C_DATE
from funnelhouse.simulator.emulators.world import World, col

EMPTY_REF = "00000000-0000-0000-0000-000000000000"
ORG_KEY = "87fa6cc2-e901-11ea-8591-000c29b45b09"
RUB_KEY = "b2d3a1e0-e901-11ea-8591-000c29b45b09"
BANK_KEY = "c51a27d4-e901-11ea-8591-000c29b45b09"
NOMENCLATURE = [f"2d4fe7{i:02x}-48a4-11ec-ad72-000c29b45b09" for i in range(len(PROJECTS))]
MS = "http://schemas.microsoft.com/ado"


def guid_strings(g: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Time-based (v1) looking GUIDs of one server, as 1C writes them."""
    return np.array(
        [
            f"{(int(a) >> 16) & 0xFFFFFFFF:08x}-{int(a) & 0xFFFF:04x}-11ee-"
            f"{(int(b) & 0x3FFF) | 0x8000:04x}-000c29b45b09"
            for a, b in zip(g, hi, strict=True)
        ],
        dtype=object,
    )


def local_strings(ts: np.ndarray, tz: str) -> np.ndarray:
    s = pd.to_datetime(pd.Series(np.maximum(ts, 0)), unit="s", utc=True).dt.tz_convert(tz)
    out = s.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    out[ts < 0] = EMPTY_1C_DATE
    return out


def data_version(seq: np.ndarray) -> np.ndarray:
    return np.array(
        [base64.b64encode(int(s).to_bytes(4, "big") + b"\0\0\0\0").decode() for s in seq],
        dtype=object,
    )


def odata_error(status: int, code: int, message: str) -> Response:
    body = {"odata.error": {"code": str(code), "message": {"lang": "ru", "value": message}}}
    return Response(status, dumps(body), "application/json;charset=utf-8")


# The header fields every document entity set shares (sales and bank receipts alike).
DOCUMENT_HEADER = {
    "Ref_Key": "Edm.Guid",
    "DataVersion": "Edm.String",
    "DeletionMark": "Edm.Boolean",
    "Number": "Edm.String",
    "Date": "Edm.DateTime",
    "Posted": "Edm.Boolean",
    "ВидОперации": "Edm.String",
    "Организация_Key": "Edm.Guid",
    "Контрагент_Key": "Edm.Guid",
    "ДоговорКонтрагента_Key": "Edm.Guid",
    "СуммаДокумента": "Edm.Double",
    "ВалютаДокумента_Key": "Edm.Guid",
}


@dataclass
class Entity:
    name: str
    kind: str  # catalog | document
    frame: Callable[[], pd.DataFrame]  # scalar properties in API form + `row`
    types: dict[str, str]  # property -> Edm type (scalar properties, in output order)
    tabular: Callable[[pd.DataFrame], dict[str, list[list[dict]]]] | None = None
    links: tuple[str, ...] = ()
    table_types: dict[str, dict[str, str]] | None = None


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
                self._counterparties(names.counterparties),
                self._contracts(names.contracts),
                self._sales(names.sales),
                self._payments(names.payments),
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
            return Response(200, self._metadata().encode(), "application/xml;charset=utf-8")
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
            return self._atom(entity, records)
        body: dict[str, Any] = {
            "odata.metadata": f"{self.base_url}{self.prefix}/$metadata#{entity.name}"
        }
        if inline:
            body["odata.count"] = str(total)
        body["value"] = records
        return Response(200, dumps(body), "application/json;charset=utf-8", is_data=True)

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
        return Response(200, dumps(body), "application/json;charset=utf-8", is_data=True)

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
            return Response(200, dumps(body), "application/json;charset=utf-8", is_data=True)
        cols = "".join(
            f'<collection href="{escape(n)}"><atom:title>{escape(n)}</atom:title></collection>'
            for n in self.entities
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><service xmlns="http://www.w3.org/2007/app" '
            f'xmlns:atom="http://www.w3.org/2005/Atom" xml:base="{self.base_url}{self.prefix}/">'
            f"<workspace><atom:title>Default</atom:title>{cols}</workspace></service>"
        )
        return Response(200, xml.encode(), "application/xml;charset=utf-8")

    def _metadata(self) -> str:
        types, sets, complex_types = [], [], []
        for e in self.entities.values():
            props = "".join(
                f'<Property Name="{escape(p)}" Type="{t}" Nullable="true"/>'
                for p, t in e.types.items()
            )
            for tname, cols in (e.table_types or {}).items():
                row_type = f"{e.name}_{tname}_RowType"
                inner = "".join(
                    f'<Property Name="{escape(p)}" Type="{t}" Nullable="true"/>'
                    for p, t in cols.items()
                )
                complex_types.append(
                    f'<ComplexType Name="{escape(row_type)}">{inner}</ComplexType>'
                )
                collection = f"Collection(StandardODATA.{escape(row_type)})"
                props += f'<Property Name="{escape(tname)}" Type="{collection}" Nullable="false"/>'
            types.append(
                f'<EntityType Name="{escape(e.name)}">'
                f'<Key><PropertyRef Name="Ref_Key"/></Key>{props}</EntityType>'
            )
            sets.append(
                f'<EntitySet Name="{escape(e.name)}" EntityType="StandardODATA.{escape(e.name)}"/>'
            )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><edmx:Edmx xmlns:edmx="{MS}/2007/06/edmx" '
            f'Version="1.0"><edmx:DataServices xmlns:m="{MS}/2007/08/dataservices/metadata" '
            f'm:DataServiceVersion="3.0"><Schema xmlns="{MS}/2009/11/edm" '
            f'Namespace="StandardODATA">{"".join(types)}{"".join(complex_types)}'
            '<EntityContainer Name="StandardODATA" m:IsDefaultEntityContainer="true">'
            f"{''.join(sets)}"
            "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
        )

    def _atom(self, entity: Entity, records: list[dict]) -> Response:
        entries = []
        for rec in records:
            props = "".join(
                f"<d:{escape(k)}>{escape(str(v))}</d:{escape(k)}>"
                for k, v in rec.items()
                if not isinstance(v, (list, dict)) and "@" not in k
            )
            entries.append(
                f"<entry><id>{self.base_url}{self.prefix}/{quote(entity.name)}"
                f"(guid'{rec.get('Ref_Key')}')</id><content type=\"application/xml\">"
                f"<m:properties>{props}</m:properties></content></entry>"
            )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
            'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
            f"<title>{escape(entity.name)}</title>{''.join(entries)}</feed>"
        )
        return Response(200, xml.encode(), "application/atom+xml;type=feed;charset=utf-8")

    # -- entities ------------------------------------------------------------------------
    def _versioned(self, t: pd.DataFrame, clock: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows existing at the clock, whether edited / marked by then, and their DataVersion."""
        rows = np.flatnonzero(t["created_at"].to_numpy() <= clock)
        edit, mark = t["edit_at"].to_numpy()[rows], t["mark_at"].to_numpy()[rows]
        edited = (edit >= 0) & (edit <= clock)
        marked = (mark >= 0) & (mark <= clock)
        seq = t["seq_created"].to_numpy()[rows]
        seq = np.where(edited, t["seq_edit"].to_numpy()[rows], seq)
        seq = np.where(marked & ((~edited) | (mark >= edit)), t["seq_mark"].to_numpy()[rows], seq)
        return rows, edited, marked, data_version(seq)  # type: ignore[return-value]

    def _counterparties(self, name: str) -> Entity:
        t = self.c.onec.counterparties
        cl = self.c.clients
        contract_of = np.full(len(t), -1)
        ct = self.c.onec.contracts
        contract_of[ct["counterparty"].to_numpy()] = np.arange(len(ct))
        types = {
            "Ref_Key": "Edm.Guid",
            "DataVersion": "Edm.String",
            "DeletionMark": "Edm.Boolean",
            "Parent_Key": "Edm.Guid",
            "IsFolder": "Edm.Boolean",
            "Code": "Edm.String",
            "Description": "Edm.String",
            "НаименованиеПолное": "Edm.String",
            "ЮридическоеФизическоеЛицо": "Edm.String",
            "ИНН": "Edm.String",
            "КПП": "Edm.String",
            "ОсновнойДоговорКонтрагента_Key": "Edm.Guid",
            "Комментарий": "Edm.String",
            "Predefined": "Edm.Boolean",
            "PredefinedDataName": "Edm.String",
        }

        def frame() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                rows, edited, marked, dv = self._versioned(t, clock)
                client = t["client"].to_numpy()[rows]
                other = t["other"].to_numpy()[rows]
                known = client >= 0
                names = np.array(
                    [
                        col(cl, "name")[c] if c >= 0 else company_name(1_000_000 + o)
                        for c, o in zip(client, other, strict=True)
                    ],
                    dtype=object,
                )
                inns = np.where(
                    known, cl["inn"].to_numpy()[np.maximum(client, 0)], self.other_inn[other]
                )
                inns = np.where(t["no_inn"].to_numpy()[rows], "", inns)
                individual = np.array([str(n).startswith("ИП ") for n in names])
                full = np.where(
                    edited, np.array([_full_name(str(n)) for n in names], dtype=object), names
                )
                kpp = np.where(
                    individual | ~edited,
                    "",
                    np.array([f"{str(i)[:4]}01001" for i in inns], dtype=object),
                )
                contract = contract_of[rows]
                ct_guid = np.where(
                    contract >= 0, self.guids["ct"][np.maximum(contract, 0)], EMPTY_REF
                )
                # The main contract is set when the contract is signed; before that it is empty.
                signed = (contract >= 0) & (
                    ct["created_at"].to_numpy()[np.maximum(contract, 0)] <= clock
                )
                return pd.DataFrame(
                    {
                        "row": rows,
                        "Ref_Key": self.guids["cp"][rows],
                        "DataVersion": dv,
                        "DeletionMark": marked,
                        "Parent_Key": EMPTY_REF,
                        "IsFolder": False,
                        "Code": [f"{r + 1:09d}" for r in rows],
                        "Description": names,
                        "НаименованиеПолное": full,
                        "ЮридическоеФизическоеЛицо": np.where(
                            individual, "ФизическоеЛицо", "ЮридическоеЛицо"
                        ),
                        "ИНН": inns,
                        "КПП": kpp,
                        "ОсновнойДоговорКонтрагента_Key": np.where(signed, ct_guid, EMPTY_REF),
                        "Комментарий": np.where(known, "", "Поставщик"),
                        "Predefined": False,
                        "PredefinedDataName": "",
                    }
                )

            return self.world.cached(f"onec.{name}", build)

        return Entity(name, "catalog", frame, types, links=("Parent", "ОсновнойДоговорКонтрагента"))

    def _contracts(self, name: str) -> Entity:
        t = self.c.onec.contracts
        types = {
            "Ref_Key": "Edm.Guid",
            "DataVersion": "Edm.String",
            "DeletionMark": "Edm.Boolean",
            "Owner_Key": "Edm.Guid",
            "Parent_Key": "Edm.Guid",
            "IsFolder": "Edm.Boolean",
            "Code": "Edm.String",
            "Description": "Edm.String",
            "Номер": "Edm.String",
            "Дата": "Edm.DateTime",
            "ВидДоговора": "Edm.String",
            "Организация_Key": "Edm.Guid",
            "ВалютаВзаиморасчетов_Key": "Edm.Guid",
            "СрокДействия": "Edm.DateTime",
            "КратностьВзаиморасчетов": "Edm.Int64",
            "Комментарий": "Edm.String",
            "Predefined": "Edm.Boolean",
            "PredefinedDataName": "Edm.String",
        }

        def frame() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                rows, edited, marked, dv = self._versioned(t, clock)
                created = t["created_at"].to_numpy()[rows]
                date = local_strings(created, self.tz)
                number = [f"{r + 1}-{d[2:4]}" for r, d in zip(rows, date, strict=True)]
                till = np.where(
                    t["valid_till_days"].to_numpy()[rows] > 0,
                    created + t["valid_till_days"].to_numpy()[rows] * 86_400,
                    -1,
                )
                return pd.DataFrame(
                    {
                        "row": rows,
                        "Ref_Key": self.guids["ct"][rows],
                        "DataVersion": dv,
                        "DeletionMark": marked,
                        "Owner_Key": self.guids["cp"][t["counterparty"].to_numpy()[rows]],
                        "Parent_Key": EMPTY_REF,
                        "IsFolder": False,
                        "Code": [f"{r + 1:09d}" for r in rows],
                        "Description": [
                            f"Договор № {n} от {d[8:10]}.{d[5:7]}.{d[:4]}"
                            for n, d in zip(number, date, strict=True)
                        ],
                        "Номер": number,
                        "Дата": [d[:10] + "T00:00:00" for d in date],
                        "ВидДоговора": "СПокупателем",
                        "Организация_Key": ORG_KEY,
                        "ВалютаВзаиморасчетов_Key": RUB_KEY,
                        "СрокДействия": local_strings(till, self.tz),
                        "КратностьВзаиморасчетов": "1",
                        "Комментарий": np.where(edited, "Пролонгирован", ""),
                        "Predefined": False,
                        "PredefinedDataName": "",
                    }
                )

            return self.world.cached(f"onec.{name}", build)

        return Entity(name, "catalog", frame, types, links=("Owner", "Организация"))

    def _doc_base(self, t: pd.DataFrame, key: str, clock: int, prefix: str) -> pd.DataFrame:
        rows, edited, marked, dv = self._versioned(t, clock)
        date = local_strings(t["date"].to_numpy()[rows], self.tz)
        # Numbers restart every year: 0000-000001, 0000-000002, ... in date order.
        year = pd.Series([d[:4] for d in date])
        order = t["date"].to_numpy()[rows]
        rank = pd.Series(order).groupby(year).rank(method="first").astype(int).to_numpy()
        posted = ~marked & (t["guid_hi"].to_numpy()[rows] % 50 != 0)
        cp = t["counterparty"].to_numpy()[rows]
        contract = t["contract"].to_numpy()[rows]
        factor = np.where(edited, t["edit_factor"].to_numpy()[rows], 1.0)
        return pd.DataFrame(
            {
                "row": rows,
                "Ref_Key": self.guids[key][rows],
                "DataVersion": dv,
                "DeletionMark": marked,
                "Number": [f"{prefix}-{n:06d}" for n in rank],
                "Date": date,
                "Posted": posted,
                "Организация_Key": ORG_KEY,
                "Контрагент_Key": self.guids["cp"][cp],
                "ДоговорКонтрагента_Key": np.where(
                    contract >= 0, self.guids["ct"][np.maximum(contract, 0)], EMPTY_REF
                ),
                "СуммаДокумента": np.round(t["amount"].to_numpy()[rows] * factor, 2),
                "ВалютаДокумента_Key": RUB_KEY,
                "Комментарий": np.where(edited, "Корректировка", ""),
            }
        )

    def _sales(self, name: str) -> Entity:
        t = self.c.onec.sales
        types = {
            **DOCUMENT_HEADER,
            "КратностьВзаиморасчетов": "Edm.Int64",
            "СуммаВключаетНДС": "Edm.Boolean",
            "ДоверенностьДата": "Edm.DateTime",
            "Комментарий": "Edm.String",
        }
        rows_type = {
            "Ref_Key": "Edm.Guid",
            "LineNumber": "Edm.Int64",
            "Номенклатура_Key": "Edm.Guid",
            "Содержание": "Edm.String",
            "Количество": "Edm.Double",
            "Цена": "Edm.Double",
            "Сумма": "Edm.Double",
            "СтавкаНДС": "Edm.String",
            "СуммаНДС": "Edm.Double",
        }

        def frame() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                f = self._doc_base(t, "s", clock, "0000")
                f["ВидОперации"] = "Услуги"
                f["КратностьВзаиморасчетов"] = "1"
                f["СуммаВключаетНДС"] = True
                f["ДоверенностьДата"] = EMPTY_1C_DATE
                return f

            return self.world.cached(f"onec.{name}", build)

        def tabular(frame: pd.DataFrame) -> dict[str, list[list[dict]]]:
            services = []
            for r in frame.itertuples():
                amount = float(r.СуммаДокумента)
                project = int(col(t, "project")[int(r.row)])
                services.append(
                    [
                        {
                            "Ref_Key": r.Ref_Key,
                            "LineNumber": "1",
                            "Номенклатура_Key": NOMENCLATURE[project],
                            "Содержание": PROJECTS[project].name,
                            "Количество": 1,
                            "Цена": _num(amount),
                            "Сумма": _num(amount),
                            "СтавкаНДС": "НДС20",
                            "СуммаНДС": _num(round(amount * 20 / 120, 2)),
                        }
                    ]
                )
            return {"Услуги": services, "Товары": [[] for _ in services]}

        return Entity(
            name,
            "document",
            frame,
            types,
            tabular,
            links=("Контрагент", "ДоговорКонтрагента"),
            table_types={"Услуги": rows_type, "Товары": rows_type},
        )

    def _payments(self, name: str) -> Entity:
        t = self.c.onec.payments
        types = {
            **DOCUMENT_HEADER,
            "СчетОрганизации_Key": "Edm.Guid",
            "НазначениеПлатежа": "Edm.String",
            "ДатаВходящегоДокумента": "Edm.DateTime",
            "НомерВходящегоДокумента": "Edm.String",
            "Комментарий": "Edm.String",
        }
        rows_type = {
            "Ref_Key": "Edm.Guid",
            "LineNumber": "Edm.Int64",
            "ДоговорКонтрагента_Key": "Edm.Guid",
            "СуммаПлатежа": "Edm.Double",
            "СтавкаНДС": "Edm.String",
            "СуммаНДС": "Edm.Double",
            "Сделка": "Edm.Guid",
            "Сделка_Type": "Edm.String",
            "СпособПогашенияЗадолженности": "Edm.String",
        }

        def frame() -> pd.DataFrame:
            def build(clock: int) -> pd.DataFrame:
                f = self._doc_base(t, "p", clock, "0000")
                f["ВидОперации"] = "ОплатаПокупателя"
                f["СчетОрганизации_Key"] = BANK_KEY
                sale = t["sale"].to_numpy()[f["row"].to_numpy()]
                f["НазначениеПлатежа"] = [f"Оплата по счету № {s + 1} НДС 20%" for s in sale]
                f["ДатаВходящегоДокумента"] = [d[:10] + "T00:00:00" for d in f["Date"]]
                f["НомерВходящегоДокумента"] = [str(100 + (int(r) * 37) % 9000) for r in f["row"]]
                return f

            return self.world.cached(f"onec.{name}", build)

        def tabular(frame: pd.DataFrame) -> dict[str, list[list[dict]]]:
            lines = []
            for r in frame.itertuples():
                amount = float(r.СуммаДокумента)
                sale = int(col(t, "sale")[int(r.row)])
                lines.append(
                    [
                        {
                            "Ref_Key": r.Ref_Key,
                            "LineNumber": "1",
                            "ДоговорКонтрагента_Key": r.ДоговорКонтрагента_Key,
                            "СуммаПлатежа": _num(amount),
                            "СтавкаНДС": "НДС20",
                            "СуммаНДС": _num(round(amount * 20 / 120, 2)),
                            "Сделка": self.guids["s"][sale],
                            "Сделка_Type": "StandardODATA.Document_РеализацияТоваровУслуг",
                            "СпособПогашенияЗадолженности": "Автоматически",
                        }
                    ]
                )
            return {"РасшифровкаПлатежа": lines}

        return Entity(
            name,
            "document",
            frame,
            types,
            tabular,
            links=("Контрагент", "ДоговорКонтрагента"),
            table_types={"РасшифровкаПлатежа": rows_type},
        )


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 2)


def _full_name(short: str) -> str:
    for form, full in (
        ("ООО ", "Общество с ограниченной ответственностью "),
        ("АО ", "Акционерное общество "),
        ("ИП ", "Индивидуальный предприниматель "),
    ):
        if short.startswith(form):
            return full + short[len(form) :]
    return short
