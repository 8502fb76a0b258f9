"""UTM tags on leads and product rows on deals (issue 18: leads by UTM, revenue by product).

Drawn from a generator of their own (the company seed plus a fixed stream key) after
everything else, so adding them changed no earlier draw: leads, calls, 1C and every other
table stay byte-identical for a seed.

UTM tags follow the lead's channel: web and advertising leads mostly carry
utm_source/medium/campaign, e-mail leads their newsletter, inbound calls sometimes (call
tracking), recommendations, partners and cold calls rarely; a few tagged leads carry only
source and medium (a hand-made link), content and term come on some.

Products: a catalogue of three per project; 85 % of deals carry 1–3 rows of distinct
products with a quantity. The rows are the final offer: a row's amount is quantity × unit
price, and the amounts add up to the deal's final amount (`price`) exactly: the last row has
quantity 1 and takes the remainder, the others are whole hundreds per unit. (Before the
proposal a deal shows an earlier estimate, `price_initial`, which the rows do not follow.)
amoCRM links catalogue elements with a quantity only; the price there is the element's list
price, so amoCRM rows do not add up to the budget (see `amo_price`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import SOURCES

STREAM_KEY = 18  # issue 18; any fixed number keeps these draws off the company's generator
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True)
class Channel:
    tagged: float  # share of the channel's leads that carry UTM tags
    pairs: tuple[tuple[str, str, float], ...]  # (utm_source, utm_medium, weight)
    campaigns: tuple[str, ...]
    partial: float = 0.1  # share of tagged leads with only source and medium
    content: float = 0.0  # share of fully tagged leads with utm_content
    term: float = 0.0  # ... with utm_term


CHANNELS: dict[str, Channel] = {
    "Сайт": Channel(
        0.85,
        (("yandex", "cpc", 0.45), ("google", "cpc", 0.25), ("yandex", "organic", 0.3)),
        ("brand", "crm_implementation", "analytics"),
        content=0.5,
        term=0.4,
    ),
    "Входящий звонок": Channel(
        0.35, (("yandex", "cpc", 0.6), ("google", "cpc", 0.4)), ("calltracking", "brand"), 0.15
    ),
    "Реклама": Channel(
        0.95,
        (("yandex", "cpc", 0.4), ("vk", "cpm", 0.35), ("telegram", "cpm", 0.25)),
        ("retargeting", "lookalike", "autumn_promo"),
        0.05,
        content=0.7,
        term=0.3,
    ),
    "Рекомендация": Channel(0.1, (("referral", "referral", 1.0),), ("friends",), 0.5),
    "Холодный обзвон": Channel(0.02, (("outbound", "call", 1.0),), ("cold_base",), 0.5),
    "E-mail рассылка": Channel(
        0.9,
        (("unisender", "email", 0.7), ("sendpulse", "email", 0.3)),
        ("newsletter", "webinar_invite"),
        0.05,
        content=0.6,
    ),
    "Партнёры": Channel(0.15, (("partner", "referral", 1.0),), ("partner_program",), 0.3),
}
CONTENTS = ("banner_a", "banner_b", "text_1")
TERMS = ("crm", "внедрение crm", "ip телефония", "сквозная аналитика", "обучение продажам")


@dataclass(frozen=True)
class Product:
    name: str
    project: int  # index in PROJECTS: a product is sold in its project's CRM
    list_price: int  # RUB per unit: the amoCRM catalogue price, a guide in Bitrix24


PRODUCTS: tuple[Product, ...] = (
    Product("Лицензия CRM, 10 мест", 0, 120_000),
    Product("Настройка и внедрение", 0, 150_000),
    Product("Интеграция с телефонией", 0, 60_000),
    Product("Виртуальная АТС", 1, 15_000),
    Product("Номер 8-800", 1, 9_000),
    Product("IP-телефон", 1, 7_000),
    Product("Подписка на аналитику", 2, 60_000),
    Product("Настройка отчётов", 2, 40_000),
    Product("Коннектор рекламных кабинетов", 2, 25_000),
    Product("Пакет поддержки 10 ч", 3, 20_000),
    Product("Выезд инженера", 3, 8_000),
    Product("SLA 24/7", 3, 15_000),
    Product("Курс «Продажи по телефону»", 4, 45_000),
    Product("Тренинг для руководителей", 4, 60_000),
    Product("Учебные материалы", 4, 5_000),
    Product("Корпоративная программа", 5, 300_000),
    Product("Оценка персонала", 5, 80_000),
    Product("Сертификация", 5, 20_000),
)
WITH_PRODUCTS = 0.85
QUANTITIES = np.array([1, 1, 1, 2, 3, 5])


def generator(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM_KEY])


def utm(rng: np.random.Generator, leads: pd.DataFrame) -> pd.DataFrame:
    """One row per lead: the five tags, None where the lead has none."""
    n = len(leads)
    out = {k: np.full(n, None, dtype=object) for k in UTM_KEYS}
    source = leads["source"].to_numpy()
    for s, src in enumerate(SOURCES):
        ch = CHANNELS[src.name]
        rows = np.flatnonzero(source == s)
        k = rows.size
        tagged = rng.random(k) < ch.tagged
        w = np.array([p[2] for p in ch.pairs])
        pair = rng.choice(len(ch.pairs), size=k, p=w / w.sum())
        full = tagged & (rng.random(k) >= ch.partial)
        campaign = rng.choice(len(ch.campaigns), size=k)
        content = full & (rng.random(k) < ch.content)
        content_v = rng.choice(len(CONTENTS), size=k)
        term = full & (rng.random(k) < ch.term)
        term_v = rng.choice(len(TERMS), size=k)
        for j in range(k):
            if not tagged[j]:
                continue
            r = rows[j]
            out["utm_source"][r], out["utm_medium"][r] = ch.pairs[pair[j]][:2]
            organic = ch.pairs[pair[j]][1] == "organic"
            if full[j] and not organic:
                out["utm_campaign"][r] = ch.campaigns[campaign[j]]
            if content[j] and not organic:
                out["utm_content"][r] = CONTENTS[content_v[j]]
            if term[j]:
                out["utm_term"][r] = TERMS[term_v[j]]
    # object columns keep None (a string dtype would turn a missing tag into NaN)
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in out.items()})


def deal_products(rng: np.random.Generator, leads: pd.DataFrame) -> pd.DataFrame:
    """Product rows: lead, product (index in PRODUCTS), quantity, price (per unit), in row
    order per lead. Amounts add up to the lead's final `price` (see the module docstring)."""
    n = len(leads)
    has = rng.random(n) < WITH_PRODUCTS
    k_all = rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2])
    pick = rng.random((n, 3)).argsort(axis=1)  # a random order of the project's 3 products
    qty_all = rng.choice(QUANTITIES, size=(n, 3))
    by_project: dict[int, list[int]] = {}
    for i, x in enumerate(PRODUCTS):
        by_project.setdefault(x.project, []).append(i)
    project = leads["project"].to_numpy()
    price = leads["price"].to_numpy()
    lead_col, product_col, qty_col, unit_col = [], [], [], []
    for i in np.flatnonzero(has):
        total = int(price[i])
        prods = [by_project[int(project[i])][j] for j in pick[i, : k_all[i]]]
        qty = [int(q) for q in qty_all[i, : len(prods)]]
        qty[-1] = 1
        weight = np.array([q * PRODUCTS[p].list_price for p, q in zip(prods, qty, strict=True)])
        amounts = [
            round(float(total * w / weight.sum() / (q * 100))) * q * 100
            for w, q in zip(weight[:-1], qty[:-1], strict=True)
        ]
        last = total - sum(amounts)
        if last <= 0 or any(a <= 0 for a in amounts):  # a small deal: one row takes it all
            prods, qty, amounts, last = prods[:1], [1], [], total
        amounts.append(last)
        for p, q, a in zip(prods, qty, amounts, strict=True):
            lead_col.append(i)
            product_col.append(p)
            qty_col.append(q)
            unit_col.append(a // q)
    return pd.DataFrame(
        {
            "lead": np.array(lead_col, dtype=np.int64),
            "product": np.array(product_col, dtype=np.int64),
            "quantity": np.array(qty_col, dtype=np.int64),
            "price": np.array(unit_col, dtype=np.int64),
        }
    )


def amo_price(rows: pd.DataFrame) -> np.ndarray:
    """The unit price amoCRM shows for a row: the catalogue element's list price."""
    return np.array([p.list_price for p in PRODUCTS], dtype=np.int64)[rows["product"].to_numpy()]
