"""1C OData emulator against SOURCE_APIS.md §4: URL, auth, query options, value conventions."""

from __future__ import annotations

import re

import requests

SALES = "Document_РеализацияТоваровУслуг"
CP = "Catalog_Контрагенты"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LOCAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


def get(onec, src, path: str, **params: object) -> requests.Response:
    return onec.get(f"{src.onec_url}/{path}", params={"$format": "json", **params}, timeout=10)


def test_basic_auth_required(sources):
    r = requests.get(f"{sources.onec_url}/{CP}", params={"$format": "json"}, timeout=5)
    assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]
    r = requests.get(f"{sources.onec_url}/{CP}", auth=("odata.user", "wrong"), timeout=5)
    assert r.status_code == 401


def test_collection_shape_and_conventions(sources, onec):
    body = get(onec, sources, SALES, **{"$top": 20, "$orderby": "Date,Ref_Key"}).json()
    assert body["odata.metadata"].endswith(f"$metadata#{SALES}")
    docs = body["value"]
    assert len(docs) == 20
    for d in docs:
        assert GUID.match(d["Ref_Key"]) and LOCAL.match(d["Date"]) and isinstance(d["Posted"], bool)
        assert isinstance(d["DataVersion"], str) and d["DataVersion"].endswith("=")
        assert d["ДоверенностьДата"] == "0001-01-01T00:00:00"
        assert d["КратностьВзаиморасчетов"] == "1"  # Edm.Int64 as a string
        assert isinstance(d["СуммаДокумента"], (int, float))
        row = d["Услуги"][0]
        assert row["Ref_Key"] == d["Ref_Key"] and row["LineNumber"] == "1"
        assert f"{SALES}(guid'{d['Ref_Key']}')/Контрагент" == d["Контрагент@navigationLinkUrl"]
    dates = [d["Date"] for d in docs]
    assert dates == sorted(dates)
    assert any(
        d["ДоговорКонтрагента_Key"] == "00000000-0000-0000-0000-000000000000"
        for d in get(onec, sources, SALES).json()["value"]
    )


def test_filter_datetime_guid_and_select(sources, onec):
    frm, to = "2026-01-01T00:00:00", "2026-02-01T00:00:00"
    docs = get(
        onec, sources, SALES, **{"$filter": f"Date ge datetime'{frm}' and Date lt datetime'{to}'"}
    ).json()["value"]
    assert docs and all(frm <= d["Date"] < to for d in docs)
    keys = [d["Ref_Key"] for d in docs[:3]]
    flt = " or ".join(f"Ref_Key eq guid'{k}'" for k in keys)
    picked = get(
        onec, sources, SALES, **{"$filter": flt, "$select": "Ref_Key,DataVersion,DeletionMark"}
    ).json()["value"]
    assert sorted(p["Ref_Key"] for p in picked) == sorted(keys)
    assert all(set(p) == {"Ref_Key", "DataVersion", "DeletionMark"} for p in picked)
    one = get(onec, sources, f"{SALES}(guid'{keys[0]}')").json()
    assert one["odata.metadata"].endswith("/@Element") and one["Ref_Key"] == keys[0]


def test_top_skip_inlinecount_and_count(sources, onec):
    all_rows = get(onec, sources, CP, **{"$orderby": "Ref_Key"}).json()["value"]
    page = get(onec, sources, CP, **{"$orderby": "Ref_Key", "$top": 5, "$skip": 5}).json()["value"]
    assert [r["Ref_Key"] for r in page] == [r["Ref_Key"] for r in all_rows[5:10]]
    counted = get(onec, sources, CP, **{"$inlinecount": "allpages", "$top": 5}).json()
    assert counted["odata.count"] == str(len(all_rows))
    assert len(counted["value"]) == len(all_rows)  # $inlinecount makes 1C ignore $top/$skip
    r = onec.get(f"{sources.onec_url}/{CP}/$count", timeout=5)
    assert r.text == str(len(all_rows))


def test_inn_matches_crm_companies(sources, onec, company):
    inns = {r["ИНН"] for r in get(onec, sources, CP).json()["value"]}
    crm_inns = set(company.clients["inn"])
    assert len(inns & crm_inns) > 0.8 * len(inns)


def test_errors_metadata_and_atom(sources, onec):
    r = get(onec, sources, "Catalog_Нет")
    assert r.status_code == 404 and r.json()["odata.error"]["code"] == "8"
    r = get(onec, sources, SALES, **{"$filter": "Date ge datetime'oops'"})
    assert r.status_code == 400 and set(r.json()["odata.error"]) == {"code", "message"}
    r = get(onec, sources, SALES, **{"$select": "НетТакого"})
    assert r.status_code == 400 and r.json()["odata.error"]["code"] == "10"
    meta = onec.get(f"{sources.onec_url}/$metadata", timeout=5)
    assert (
        meta.headers["Content-Type"].startswith("application/xml")
        and f'EntitySet Name="{SALES}"' in meta.text
    )
    atom = onec.get(f"{sources.onec_url}/{CP}", params={"$top": 1}, timeout=5)
    assert atom.text.startswith("<?xml") and "<feed" in atom.text
    service = get(onec, sources, "").json()
    assert {v["name"] for v in service["value"]} >= {SALES, CP}
