"""Documents: sales of services (РеализацияТоваровУслуг) and bank receipts with their lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import PROJECTS
from funnelhouse.simulator.emulators.onec.entity import (
    BANK_KEY,
    EMPTY_REF,
    NOMENCLATURE,
    ORG_KEY,
    RUB_KEY,
    Entity,
    cached,
    local_strings,
    num,
    versioned,
)
from funnelhouse.simulator.emulators.timefmt import EMPTY_1C_DATE
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.onec.router import OneC

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

# Every tabular-section line starts with its document's Ref_Key and its LineNumber.
LINE_HEAD = {"Ref_Key": "Edm.Guid", "LineNumber": "Edm.Int64"}


def _header(emu: OneC, t: pd.DataFrame, key: str, clock: int, prefix: str) -> pd.DataFrame:
    """The header columns of a document set at the clock (`key` picks its GUIDs)."""
    rows, edited, marked, dv = versioned(t, clock)
    date = local_strings(t["date"].to_numpy()[rows], emu.tz)
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
            "Ref_Key": emu.guids[key][rows],
            "DataVersion": dv,
            "DeletionMark": marked,
            "Number": [f"{prefix}-{n:06d}" for n in rank],
            "Date": date,
            "Posted": posted,
            "Организация_Key": ORG_KEY,
            "Контрагент_Key": emu.guids["cp"][cp],
            "ДоговорКонтрагента_Key": np.where(
                contract >= 0, emu.guids["ct"][np.maximum(contract, 0)], EMPTY_REF
            ),
            "СуммаДокумента": np.round(t["amount"].to_numpy()[rows] * factor, 2),
            "ВалютаДокумента_Key": RUB_KEY,
            "Комментарий": np.where(edited, "Корректировка", ""),
        }
    )


def _document(
    emu: OneC,
    name: str,
    t: pd.DataFrame,
    key: str,
    types: dict[str, str],
    fill: Callable[[pd.DataFrame], None],
    line: Callable[[Any, float], dict],
    sections: dict[str, dict[str, str]],
) -> Entity:
    """A document set: `_header` plus `fill`'s columns, one `line` in the first tabular
    section and the other sections empty."""

    def build(clock: int) -> pd.DataFrame:
        f = _header(emu, t, key, clock, "0000")
        fill(f)
        return f

    def tabular(frame: pd.DataFrame) -> dict[str, list[list[dict]]]:
        lines = [
            [{"Ref_Key": r.Ref_Key, "LineNumber": "1", **line(r, float(r.СуммаДокумента))}]
            for r in frame.itertuples()
        ]
        first, *empty = sections
        return {first: lines, **{s: [[] for _ in lines] for s in empty}}

    return Entity(
        name,
        "document",
        cached(emu, name, build),
        types,
        tabular,
        links=("Контрагент", "ДоговорКонтрагента"),
        table_types=sections,
    )


def sales(emu: OneC, name: str) -> Entity:
    t = emu.c.onec.sales
    services = {
        **LINE_HEAD,
        "Номенклатура_Key": "Edm.Guid",
        "Содержание": "Edm.String",
        "Количество": "Edm.Double",
        "Цена": "Edm.Double",
        "Сумма": "Edm.Double",
        "СтавкаНДС": "Edm.String",
        "СуммаНДС": "Edm.Double",
    }

    def fill(f: pd.DataFrame) -> None:
        f["ВидОперации"] = "Услуги"
        f["КратностьВзаиморасчетов"] = "1"
        f["СуммаВключаетНДС"] = True
        f["ДоверенностьДата"] = EMPTY_1C_DATE

    def line(r: Any, amount: float) -> dict:
        project = int(col(t, "project")[int(r.row)])
        return {
            "Номенклатура_Key": NOMENCLATURE[project],
            "Содержание": PROJECTS[project].name,
            "Количество": 1,
            "Цена": num(amount),
            "Сумма": num(amount),
            "СтавкаНДС": "НДС20",
            "СуммаНДС": num(round(amount * 20 / 120, 2)),
        }

    types = {
        **DOCUMENT_HEADER,
        "КратностьВзаиморасчетов": "Edm.Int64",
        "СуммаВключаетНДС": "Edm.Boolean",
        "ДоверенностьДата": "Edm.DateTime",
        "Комментарий": "Edm.String",
    }
    sections = {"Услуги": services, "Товары": services}
    return _document(emu, name, t, "s", types, fill, line, sections)


def payments(emu: OneC, name: str) -> Entity:
    t = emu.c.onec.payments
    decoding = {
        **LINE_HEAD,
        "ДоговорКонтрагента_Key": "Edm.Guid",
        "СуммаПлатежа": "Edm.Double",
        "СтавкаНДС": "Edm.String",
        "СуммаНДС": "Edm.Double",
        "Сделка": "Edm.Guid",
        "Сделка_Type": "Edm.String",
        "СпособПогашенияЗадолженности": "Edm.String",
    }

    def fill(f: pd.DataFrame) -> None:
        f["ВидОперации"] = "ОплатаПокупателя"
        f["СчетОрганизации_Key"] = BANK_KEY
        sale = t["sale"].to_numpy()[f["row"].to_numpy()]
        f["НазначениеПлатежа"] = [f"Оплата по счету № {s + 1} НДС 20%" for s in sale]
        f["ДатаВходящегоДокумента"] = [d[:10] + "T00:00:00" for d in f["Date"]]
        f["НомерВходящегоДокумента"] = [str(100 + (int(r) * 37) % 9000) for r in f["row"]]

    def line(r: Any, amount: float) -> dict:
        return {
            "ДоговорКонтрагента_Key": r.ДоговорКонтрагента_Key,
            "СуммаПлатежа": num(amount),
            "СтавкаНДС": "НДС20",
            "СуммаНДС": num(round(amount * 20 / 120, 2)),
            "Сделка": emu.guids["s"][int(col(t, "sale")[int(r.row)])],
            "Сделка_Type": "StandardODATA.Document_РеализацияТоваровУслуг",
            "СпособПогашенияЗадолженности": "Автоматически",
        }

    types = {
        **DOCUMENT_HEADER,
        "СчетОрганизации_Key": "Edm.Guid",
        "НазначениеПлатежа": "Edm.String",
        "ДатаВходящегоДокумента": "Edm.DateTime",
        "НомерВходящегоДокумента": "Edm.String",
        "Комментарий": "Edm.String",
    }
    return _document(emu, name, t, "p", types, fill, line, {"РасшифровкаПлатежа": decoding})
