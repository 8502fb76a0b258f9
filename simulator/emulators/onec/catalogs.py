"""Catalogs: counterparties (clients by INN, suppliers) and contracts with buyers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import company_name
from funnelhouse.simulator.emulators.onec.entity import (
    EMPTY_REF,
    ORG_KEY,
    RUB_KEY,
    Entity,
    cached,
    local_strings,
    versioned,
)
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.onec.router import OneC

# The last properties of every catalog.
_CATALOG_TAIL = {
    "Комментарий": "Edm.String",
    "Predefined": "Edm.Boolean",
    "PredefinedDataName": "Edm.String",
}


def counterparties(emu: OneC, name: str) -> Entity:
    t = emu.c.onec.counterparties
    cl = emu.c.clients
    contract_of = np.full(len(t), -1)
    ct = emu.c.onec.contracts
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
        **_CATALOG_TAIL,
    }

    def build(clock: int) -> pd.DataFrame:
        rows, edited, marked, dv = versioned(t, clock)
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
        inns = np.where(known, cl["inn"].to_numpy()[np.maximum(client, 0)], emu.other_inn[other])
        inns = np.where(t["no_inn"].to_numpy()[rows], "", inns)
        individual = np.array([str(n).startswith("ИП ") for n in names])
        full = np.where(edited, np.array([full_name(str(n)) for n in names], dtype=object), names)
        kpp = np.where(
            individual | ~edited,
            "",
            np.array([f"{str(i)[:4]}01001" for i in inns], dtype=object),
        )
        contract = contract_of[rows]
        ct_guid = np.where(contract >= 0, emu.guids["ct"][np.maximum(contract, 0)], EMPTY_REF)
        # The main contract is set when the contract is signed; before that it is empty.
        signed = (contract >= 0) & (ct["created_at"].to_numpy()[np.maximum(contract, 0)] <= clock)
        return pd.DataFrame(
            {
                "row": rows,
                "Ref_Key": emu.guids["cp"][rows],
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

    return Entity(
        name,
        "catalog",
        cached(emu, name, build),
        types,
        links=("Parent", "ОсновнойДоговорКонтрагента"),
    )


def contracts(emu: OneC, name: str) -> Entity:
    t = emu.c.onec.contracts
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
        **_CATALOG_TAIL,
    }

    def build(clock: int) -> pd.DataFrame:
        rows, edited, marked, dv = versioned(t, clock)
        created = t["created_at"].to_numpy()[rows]
        date = local_strings(created, emu.tz)
        number = [f"{r + 1}-{d[2:4]}" for r, d in zip(rows, date, strict=True)]
        till = np.where(
            t["valid_till_days"].to_numpy()[rows] > 0,
            created + t["valid_till_days"].to_numpy()[rows] * 86_400,
            -1,
        )
        return pd.DataFrame(
            {
                "row": rows,
                "Ref_Key": emu.guids["ct"][rows],
                "DataVersion": dv,
                "DeletionMark": marked,
                "Owner_Key": emu.guids["cp"][t["counterparty"].to_numpy()[rows]],
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
                "СрокДействия": local_strings(till, emu.tz),
                "КратностьВзаиморасчетов": "1",
                "Комментарий": np.where(edited, "Пролонгирован", ""),
                "Predefined": False,
                "PredefinedDataName": "",
            }
        )

    return Entity(name, "catalog", cached(emu, name, build), types, links=("Owner", "Организация"))


def full_name(short: str) -> str:
    """The full legal name 1C keeps beside the short one (after an edit)."""
    for form, full in (
        ("ООО ", "Общество с ограниченной ответственностью "),
        ("АО ", "Акционерное общество "),
        ("ИП ", "Индивидуальный предприниматель "),
    ):
        if short.startswith(form):
            return full + short[len(form) :]
    return short
