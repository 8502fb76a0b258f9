"""A hand-written company small enough to compute every mart row by hand.

Times are Moscow local (UTC+3) unless a name says otherwise. The amoCRM pipeline "Продажи" has
stages 10 Новая, 20 Квалификация, 142 won, 143 lost; Bitrix24 funnel 0 has NEW, WON, LOSE.

Leads (amoCRM unless B*):
  L1 01-05 10:00 Анна   Сайт      A  AA 100 000  → 20 at 01-06 10:00 → 142 at 01-10 12:00
  L2 01-12 09:00 Анна   Сайт      A  BB  50 000  → 20 at 01-13 09:00 → 143 at 01-20 09:00
  L3 01-20 11:00 Борис  Холодный  B  CC 200 000  → 20 at 01-21 11:00 → 142 at 03-01 12:00 (40 d)
  L4 02-03 10:00 Борис  Сайт      B  AA  80 000  stays in 10
  L5 02-10 10:00 Анна   Холодный  A  BB  30 000  → 20 at 02-11 10:00
  L6 02-15 10:00 Борис  Партнёры  A  —   60 000  → 142 at 02-16 10:00
  L7 02-20 10:00 Анна   Сайт      A  AA  10 000  deleted in the CRM
  L8..L11 03-02..03-05 10:00 Анна Сайт A AA 1 000 each, stay in 10
  B1 02-01 12:00 Вера (Bitrix24) source WEB project C rating AA 70 000 → WON at 02-05 12:00
Calls (UIS):
  C1 01-05 09:30 out 60 s   note on L1 → before deal
  C2 01-06 15:00 in 120 s   note on L1 → Квалификация
  C3 01-15 10:00 out 90 s   note on L1 → after the win: Успешно реализовано
  C4 01-16 20:00 in missed  unknown number → (no deal)
  C5 01-14 12:00 in 300 s   client phone of L2 (open then) → Квалификация
  C6 02-20 10:00 out 200 s  note on L3 → Квалификация
  C7 02-02 10:00 in 100 s   Bitrix24 call activity on B1 → NEW; answered by "В. Смирнова",
                            whom the manager_aliases var maps to Вера Смирнова
  C8 04-13 12:00 out 60 s   note on L11 (keeps L11 from being forgotten)
  C9 01-16 20:30 out 30 s   calls C4's number back after 30 minutes → (no deal)
  C10 02-21 10:00 in 45 s   a note links it to L7, deleted: the phone rule finds L5 instead;
                            answered by Сидоров Пётр, a PBX employee no CRM user matches
UIS names employees surname first ("Петрова Анна"); the CRM says "Анна Петрова".
Also: a meeting task of Борис on L4 (02-04 10:00); amoCRM company 3001 (INN 7707083893) on L1;
1C counterparties K1 (that INN), K2, K3 with sales, a payment, a deleted and an unposted sale;
plans for Анна and Борис in January.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

MSK = timezone(timedelta(hours=3))
PIPELINE = 1
STAGES = {
    10: "Новая",
    20: "Квалификация",
    142: "Успешно реализовано",
    143: "Закрыто и не реализовано",
}
USERS = {501: "Анна Петрова", 502: "Борис Орлов"}
PHONE_L2 = "79161112233"


def ts(text: str) -> int:
    return int(datetime.fromisoformat(f"2026-{text}").replace(tzinfo=MSK).timestamp())


def local(text: str) -> str:
    return f"2026-{text.replace('T', ' ')}:00"


def _lead(lid, created, user, source, project, rating, price, status, contacts=(), deleted=False,
          closed=None, company=None):  # fmt: skip
    fields = [("Источник", source), ("Проект", project)]
    if rating:
        fields.append(("Рейтинг клиента", rating))
    return {
        "id": lid, "name": f"Сделка #{lid}", "price": price, "responsible_user_id": user,
        "group_id": 0, "status_id": status, "pipeline_id": PIPELINE, "loss_reason_id": None,
        "created_by": user, "updated_by": user, "created_at": ts(created),
        "updated_at": ts(created), "closed_at": ts(closed) if closed else None,
        "closest_task_at": None, "is_deleted": deleted, "score": None, "account_id": 1,
        "custom_fields_values": [
            {"field_id": i, "field_name": n, "field_code": None, "field_type": "select",
             "values": [{"value": v}]}
            for i, (n, v) in enumerate(fields, start=100)
        ],
        "_embedded": {"tags": [], "companies": [{"id": company}] if company else [],
                      "contacts": [{"id": c, "is_main": True} for c in contacts],
                      "loss_reason": [{"id": 4521, "name": "Дорого"}] if status == 143 else []},
    }  # fmt: skip


LEADS = [
    _lead(
        1, "01-05T10:00", 501, "Сайт", "A", "AA", 100_000, 142, closed="01-10T12:00", company=3001
    ),
    _lead(
        2, "01-12T09:00", 501, "Сайт", "A", "BB", 50_000, 143, contacts=[9002], closed="01-20T09:00"
    ),
    _lead(3, "01-20T11:00", 502, "Холодный обзвон", "B", "CC", 200_000, 142, closed="03-01T12:00"),
    _lead(4, "02-03T10:00", 502, "Сайт", "B", "AA", 80_000, 10),
    _lead(5, "02-10T10:00", 501, "Холодный обзвон", "A", "BB", 30_000, 20, contacts=[9005]),
    _lead(6, "02-15T10:00", 502, "Партнёры", "A", None, 60_000, 142, closed="02-16T10:00"),
    _lead(7, "02-20T10:00", 501, "Сайт", "A", "AA", 10_000, 10, deleted=True),
    *[_lead(8 + i, f"03-0{2 + i}T10:00", 501, "Сайт", "A", "AA", 1_000, 10) for i in range(4)],
]
PHONE_L5 = "79990000055"
CONTACTS = [
    {"id": 9002, "name": "Клиент L2", "custom_fields_values": [
        {"field_id": 1, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
         "values": [{"value": "+7 (916) 111-22-33", "enum_code": "WORK"}]}]},
    {"id": 9005, "name": "Клиент L5", "custom_fields_values": [
        {"field_id": 1, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
         "values": [{"value": PHONE_L5, "enum_code": "WORK"}]}]},
]  # fmt: skip


def _event(eid, lead, at, before, after):
    return {"id": f"ev{eid:04d}", "type": "lead_status_changed", "entity_id": lead,
            "entity_type": "lead", "created_by": 501, "created_at": ts(at),
            "value_before": [{"lead_status": {"id": before, "pipeline_id": PIPELINE}}],
            "value_after": [{"lead_status": {"id": after, "pipeline_id": PIPELINE}}],
            "account_id": 1}  # fmt: skip


EVENTS = [
    _event(1, 1, "01-06T10:00", 10, 20), _event(2, 1, "01-10T12:00", 20, 142),
    _event(3, 2, "01-13T09:00", 10, 20), _event(4, 2, "01-20T09:00", 20, 143),
    _event(5, 3, "01-21T11:00", 10, 20), _event(6, 3, "03-01T12:00", 20, 142),
    _event(7, 5, "02-11T10:00", 10, 20), _event(8, 6, "02-16T10:00", 10, 142),
]  # fmt: skip

PIPELINES = [{
    "id": PIPELINE, "name": "Продажи", "sort": 1, "is_main": True, "is_unsorted_on": False,
    "is_archive": False, "account_id": 1,
    "_embedded": {"statuses": [
        {"id": sid, "name": name, "sort": i * 10, "is_editable": sid < 100,
         "pipeline_id": PIPELINE, "color": "#fff", "type": 0, "account_id": 1}
        for i, (sid, name) in enumerate(STAGES.items())]},
}]  # fmt: skip


def _note(nid, lead, call_id, at, kind):
    return {"id": nid, "entity_id": lead, "note_type": kind, "created_by": 501,
            "updated_by": 501, "created_at": ts(at), "updated_at": ts(at),
            "responsible_user_id": 501, "group_id": 0, "account_id": 1,
            "params": {"uniq": str(call_id), "duration": "60", "source": "uis",
                       "link": "", "phone": "", "call_status": 4, "call_result": ""}}  # fmt: skip


NOTES = [
    _note(5, 11, 1008, "04-13T12:01", "call_out"),
    _note(1, 1, 1001, "01-05T09:31", "call_out"),
    _note(2, 1, 1002, "01-06T15:01", "call_in"),
    _note(3, 1, 1003, "01-15T10:01", "call_out"),
    _note(4, 3, 1006, "02-20T10:01", "call_out"),
    _note(6, 7, 1010, "02-21T10:01", "call_in"),  # on L7, which the CRM has deleted
]


def _call(cid, at, direction, talk, phone, employee=(1, "Петрова  анна")):
    who = {"employee_id": employee[0], "employee_full_name": employee[1]}
    return {"id": cid, "start_time": local(at), "finish_time": local(at), "direction": direction,
            "is_lost": talk == 0, "talk_duration": talk, "wait_duration": 5,
            "total_duration": talk + 5, "contact_phone_number": phone,
            "virtual_phone_number": "74951112233", "finish_reason": "subscriber_disconnects",
            "first_answered_employee_id": None if talk == 0 else employee[0],
            "first_answered_employee_full_name": None if talk == 0 else employee[1],
            "employees": [] if talk == 0 else [
                {**who, "is_answered": True, "is_talked": True}]}  # fmt: skip


CALLS = [
    _call(1001, "01-05T09:30", "out", 60, "79990000001"),
    _call(1002, "01-06T15:00", "in", 120, "79990000001"),
    _call(1003, "01-15T10:00", "out", 90, "79990000001"),
    _call(1004, "01-16T20:00", "in", 0, "79995550000"),
    dict(_call(1005, "01-14T12:00", "in", 300, PHONE_L2), talk_duration="300"),  # retyped
    _call(1006, "02-20T10:00", "out", 200, "79990000003"),
    _call(1007, "02-02T10:00", "in", 100, "79990000007", employee=(3, "В. Смирнова")),
    _call(1008, "04-13T12:00", "out", 60, "79990000011"),
    _call(1009, "01-16T20:30", "out", 30, "79995550000"),
    _call(1010, "02-21T10:00", "in", 45, PHONE_L5, employee=("9", "Сидоров Пётр")),
]

COMPANIES = [
    {"id": 3001, "name": "ООО Ромашка", "custom_fields_values": [
        {"field_id": 7, "field_name": "ИНН", "field_code": None, "field_type": "text",
         "values": [{"value": "7707083893"}]}]},
    # A company on no deal, never called: listed as never contacted, not as forgotten.
    {"id": 3002, "name": "ООО Тишина", "custom_fields_values": None},
]  # fmt: skip
TASKS = [
    {
        "id": 1,
        "responsible_user_id": 502,
        "entity_type": "leads",
        "entity_id": 4,
        "task_type_id": 2,
        "is_completed": True,
        "text": "Встреча",
        "created_at": ts("02-04T10:00"),
        "updated_at": ts("02-04T10:00"),
        "complete_till": ts("02-04T12:00"),
    }
]

K1, K2, K3 = (f"0000000{i}-0000-0000-0000-000000000000" for i in (1, 2, 3))
COUNTERPARTIES = [
    {"Ref_Key": K1, "DataVersion": "AAA=", "DeletionMark": False, "IsFolder": False,
     "Description": "ООО Ромашка", "ИНН": "7707083893", "Code": "01"},
    {"Ref_Key": K2, "DataVersion": "AAA=", "DeletionMark": False, "IsFolder": False,
     "Description": "ООО Лютик", "ИНН": "7707000002", "Code": "02"},
    {"Ref_Key": K3, "DataVersion": "AAA=", "DeletionMark": False, "IsFolder": False,
     "Description": "ИП Василёк", "ИНН": "770700000399", "Code": "03"},
]  # fmt: skip


def _doc(n, date, who, amount, posted=True, deleted=False):
    return {"Ref_Key": f"d000000{n}-0000-0000-0000-000000000000", "DataVersion": "AAA=",
            "DeletionMark": deleted, "Number": f"00-{n}", "Date": f"{date}T00:00:00",
            "Posted": posted, "Контрагент_Key": who,
            "ДоговорКонтрагента_Key": "00000000-0000-0000-0000-000000000000",
            "СуммаДокумента": amount}  # fmt: skip


SALES = [
    _doc(1, "2026-01-20", K1, 100_000),
    _doc(2, "2026-02-15", K1, 50_000),
    _doc(3, "2025-06-10", K2, 10_000),
    _doc(4, "2026-01-05", K2, 20_000),
    _doc(5, "2025-10-01", K3, 5_000),
    _doc(6, "2026-02-20", K1, 999_999, deleted=True),
    _doc(7, "2026-02-21", K1, 1, posted=False),
]
PAYMENTS = [_doc(8, "2026-01-25", K1, 100_000)]
PLANS = (
    "Менеджер,Месяц,План выручки,План сделок\n"
    'Анна Петрова,01.2026,"150 000",2\n'
    'Борис Орлов,01.2026,"300 000",1\n'
)

B24_DEALS = [{
    "ID": "1", "TITLE": "B1", "CATEGORY_ID": "0", "STAGE_ID": "WON", "STAGE_SEMANTIC_ID": "S",
    "OPPORTUNITY": 70000.0, "CURRENCY_ID": "RUB", "ASSIGNED_BY_ID": "1", "SOURCE_ID": "WEB",
    "DATE_CREATE": "2026-02-01T11:00:00+02:00", "DATE_MODIFY": "2026-02-05T11:00:00+02:00",
    "CLOSEDATE": "2026-03-31T00:00:00+02:00", "CLOSED": "Y", "COMPANY_ID": "0", "CONTACT_ID": "0",
    "UF_CRM_PROJECT": "C", "UF_CRM_RATING": "AA",
}]  # fmt: skip
B24_HISTORY = [
    {
        "ID": 1,
        "TYPE_ID": 1,
        "OWNER_ID": 1,
        "CREATED_TIME": "2026-02-01T09:00:00+00:00",
        "CATEGORY_ID": 0,
        "STAGE_SEMANTIC_ID": "P",
        "STAGE_ID": "NEW",
    },
    {
        "ID": 2,
        "TYPE_ID": 3,
        "OWNER_ID": 1,
        "CREATED_TIME": "2026-02-05T09:00:00+00:00",
        "CATEGORY_ID": 0,
        "STAGE_SEMANTIC_ID": "S",
        "STAGE_ID": "WON",
    },
]
B24_STATUSES = [
    {
        "ID": "1",
        "ENTITY_ID": "DEAL_STAGE",
        "STATUS_ID": "NEW",
        "NAME": "Новая",
        "SORT": "10",
        "SEMANTICS": None,
        "CATEGORY_ID": "0",
    },
    {
        "ID": "2",
        "ENTITY_ID": "DEAL_STAGE",
        "STATUS_ID": "WON",
        "NAME": "Сделка успешна",
        "SORT": "60",
        "SEMANTICS": "S",
        "CATEGORY_ID": "0",
    },
    {
        "ID": "3",
        "ENTITY_ID": "DEAL_STAGE",
        "STATUS_ID": "LOSE",
        "NAME": "Сделка провалена",
        "SORT": "70",
        "SEMANTICS": "F",
        "CATEGORY_ID": "0",
    },
    {
        "ID": "4",
        "ENTITY_ID": "SOURCE",
        "STATUS_ID": "WEB",
        "NAME": "Сайт",
        "SORT": "10",
        "SEMANTICS": None,
    },
]
B24_CATEGORIES = [{"id": 0, "name": "Общая", "sort": 0, "entityTypeId": 2, "isDefault": "Y"}]
B24_USERS = [{"ID": "1", "ACTIVE": True, "NAME": "Вера", "LAST_NAME": "Смирнова"}]
B24_CALLS = [{"ID": "1", "CALL_ID": "externalCall.1", "EXTERNAL_CALL_ID": "1007",
              "CALL_TYPE": "2", "CALL_DURATION": "100",
              "CALL_START_DATE": "2026-02-02T09:00:00+02:00", "CALL_FAILED_CODE": "200",
              "PHONE_NUMBER": "79990000007", "PORTAL_USER_ID": "1", "CRM_ENTITY_TYPE": "CONTACT",
              "CRM_ENTITY_ID": "5", "CRM_ACTIVITY_ID": "77"}]  # fmt: skip
B24_ACTIVITIES = [{"ID": "77", "OWNER_TYPE_ID": "2", "OWNER_ID": "1", "TYPE_ID": "2",
                   "PROVIDER_ID": "VOXIMPLANT_CALL", "DIRECTION": "1",
                   "START_TIME": "2026-02-02T09:00:00+02:00", "COMPLETED": "Y",
                   "RESPONSIBLE_ID": "1", "CREATED": "2026-02-02T09:00:00+02:00"}]  # fmt: skip

AS_OF = "2026-04-15 00:00:00"
# dead_days lowered so that one idle lead of the company is dead, not forgotten; UIS employee 3
# spells Вера's name so that only an alias can match it; one active month before two silent
# ones makes a client silent.
VARS = json.dumps(
    {
        "as_of": AS_OF,
        "dead_days": 60,
        "manager_aliases": {"3": f"bitrix24:{B24_USERS[0]['ID']}"},
        "silent_after_active_months": 1,
        # int_calls recomputes only changed calls however few it holds (macros/key_replace.sql).
        "key_replace_min_rows": 0,
    }
)
BONUS_RULES = (
    "Менеджер,Бонус за сделку,Шаг выручки,Бонус за шаг,Мин. выполнение плана\n"
    '*,"1 000","50 000","2 000",50%\n'
    'Борис Орлов,"3 000","100 000","5 000",90%\n'
)

# Issue 18 (leads_by_utm, product_revenue): UTM tags and products on some leads. Tracking
# fields are found by field_code and products feed only their own marts, so no other mart
# changes. L1 yandex/cpc/brand + term, L2 yandex/cpc/brand, L4 " google " with an empty
# medium, L7 (deleted) tagged too; B1 vk/cpc/spring/banner_a.
# Products: L1 links E1 ×1 and E2 ×2: list amounts 60 000 + 20 000 split its 100 000 as
# 75 000 / 25 000; L3 links E1 ×2 (all 200 000); L6 has none. E1 has a second price field that
# the links do not name. B1 has rows 1 × 50 000 and 2 × 10 000 (= 70 000) and a lead's row.
UTM = {
    1: {"UTM_SOURCE": "yandex", "UTM_MEDIUM": "cpc", "UTM_CAMPAIGN": "brand",
        "UTM_TERM": "внедрение crm"},
    2: {"UTM_SOURCE": "yandex", "UTM_MEDIUM": "cpc", "UTM_CAMPAIGN": "brand"},
    4: {"UTM_SOURCE": " google ", "UTM_MEDIUM": ""},
    7: {"UTM_SOURCE": "yandex", "UTM_MEDIUM": "cpc", "UTM_CAMPAIGN": "brand"},
}  # fmt: skip
CATALOG, PRICE_FIELD, OTHER_PRICE_FIELD = 77, 901, 902
LEAD_PRODUCTS = {1: [(11, 1), (12, 2)], 3: [(11, 2)]}


def _price(field_id: int, value: object) -> dict:
    return {"field_id": field_id, "field_name": "Цена", "field_code": "PRICE" if field_id ==
            PRICE_FIELD else None, "field_type": "price", "values": [{"value": value}]}  # fmt: skip


CATALOG_ELEMENTS = [
    {"id": 11, "name": "Лицензия", "catalog_id": CATALOG, "is_deleted": False,
     "custom_fields_values": [_price(OTHER_PRICE_FIELD, 99_999), _price(PRICE_FIELD, 60_000)]},
    {"id": 12, "name": "Настройка", "catalog_id": CATALOG, "is_deleted": False,
     "custom_fields_values": [_price(PRICE_FIELD, "10000")]},
]  # fmt: skip
for _l in LEADS:
    _l["custom_fields_values"] += [
        {"field_id": 200 + i, "field_name": code.lower(), "field_code": code,
         "field_type": "tracking_data", "values": [{"value": value}]}
        for i, (code, value) in enumerate(UTM.get(_l["id"], {}).items())
    ]  # fmt: skip
    _l["_embedded"]["catalog_elements"] = [
        {"id": e, "metadata": {"quantity": q, "catalog_id": CATALOG, "price_id": PRICE_FIELD}}
        for e, q in LEAD_PRODUCTS.get(_l["id"], [])
    ]
B24_DEALS[0].update({"UTM_SOURCE": "vk", "UTM_MEDIUM": "cpc", "UTM_CAMPAIGN": "spring",
                     "UTM_CONTENT": "banner_a", "UTM_TERM": None})  # fmt: skip


def _row(rid, owner_type, product, price, quantity):
    return {"id": rid, "ownerId": 1, "ownerType": owner_type, "productId": rid + 100,
            "productName": product, "price": price, "quantity": quantity,
            "sort": rid * 10}  # fmt: skip


B24_PRODUCT_ROWS = [
    _row(1, "D", "Курс", 50_000, 1),
    _row(2, "D", "Материалы", 10_000.0, 2),
    _row(3, "L", "Курс", 1, 1),  # a lead's row (Bitrix24 lead 1): not the deal's
]
# Read in an earlier sync and gone from B1 since: the latest read of a deal is its rows.
B24_REMOVED_ROWS = [_row(4, "D", "Старая позиция", 99_999, 1)]
