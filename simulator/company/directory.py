"""The company's fixed directories: projects, lead sources, pipelines with stages, loss reasons.

These are the business assumptions the generator draws from. Two CRMs share the company:
most business lines run in amoCRM, the training line runs in Bitrix24 (METRICS.md unifies
them); UIS carries every call and 1C every sale and payment.
"""

from __future__ import annotations

from dataclasses import dataclass

AMOCRM = "amocrm"
BITRIX24 = "bitrix24"
RATINGS = ("AA", "BB", "CC")
RATING_SHARE = (0.2, 0.45, 0.35)
# Per unit of revenue BB and CC clients take far more talk time than AA: cheaper deals, more
# and longer calls.
RATING_PRICE = (1.6, 1.0, 0.6)
RATING_CALLS = (0.8, 1.3, 1.8)
RATING_TALK = (1.0, 1.6, 2.2)
RATING_WIN = (1.25, 1.0, 0.8)


@dataclass(frozen=True)
class Project:
    name: str
    crm: str
    price: float  # median deal amount, RUB
    difficulty: float  # >1: longer stages, more talk, lower conversion
    recurring: bool  # monthly billing in 1C after the deal is won
    share: float


PROJECTS: tuple[Project, ...] = (
    Project("Внедрение CRM", AMOCRM, 350_000, 1.3, False, 0.24),
    Project("IP-телефония", AMOCRM, 45_000, 0.9, True, 0.20),
    Project("Сквозная аналитика", AMOCRM, 180_000, 1.1, True, 0.14),
    Project("Техподдержка", AMOCRM, 30_000, 0.8, True, 0.16),
    Project("Обучение персонала", BITRIX24, 90_000, 1.0, False, 0.16),
    Project("Корпоративное обучение", BITRIX24, 420_000, 1.5, False, 0.10),
)


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # hot | cold | partner
    share: float
    win: float  # conversion multiplier
    bitrix_id: str  # SOURCE_ID in Bitrix24 (crm.status.list ENTITY_ID=SOURCE)
    amo_enum: int  # enum id of the "Источник" select field in amoCRM


SOURCES: tuple[Source, ...] = (
    Source("Сайт", "hot", 0.28, 1.2, "WEB", 4011),
    Source("Входящий звонок", "hot", 0.18, 1.4, "CALL", 4012),
    Source("Реклама", "hot", 0.14, 0.9, "ADVERTISING", 4013),
    Source("Рекомендация", "hot", 0.08, 1.6, "RECOMMENDATION", 4014),
    Source("Холодный обзвон", "cold", 0.17, 0.4, "1", 4015),
    Source("E-mail рассылка", "cold", 0.07, 0.5, "EMAIL", 4016),
    Source("Партнёры", "partner", 0.08, 1.1, "PARTNER", 4017),
)


@dataclass(frozen=True)
class Stage:
    id: int | str  # amoCRM status id (int) or Bitrix24 STATUS_ID (str)
    name: str
    kind: str  # unsorted | open | won | lost
    median_days: float = 0.0  # typical time spent here before moving on
    calls: float = 0.0  # expected calls while the deal sits here (before rating/difficulty)
    lose: float = 0.0  # relative chance a lost deal is lost at this stage


@dataclass(frozen=True)
class Pipeline:
    crm: str
    id: int  # amoCRM pipeline id / Bitrix24 category id
    name: str
    stages: tuple[Stage, ...]
    is_main: bool = False

    def index(self, kind: str) -> int:
        return next(i for i, s in enumerate(self.stages) if s.kind == kind)


def _amo_stages(base: int) -> tuple[Stage, ...]:
    return (
        Stage(base + 0, "Неразобранное", "unsorted", 0.05, 0.0, 0.0),
        Stage(base + 1, "Новая заявка", "open", 0.4, 0.8, 0.15),
        Stage(base + 2, "Квалификация", "open", 3.0, 3.0, 0.40),
        Stage(base + 3, "Встреча / демо", "open", 5.0, 1.6, 0.18),
        Stage(base + 4, "КП отправлено", "open", 4.0, 1.4, 0.14),
        Stage(base + 5, "Переговоры", "open", 6.0, 1.8, 0.10),
        Stage(base + 6, "Договор", "open", 4.0, 1.0, 0.03),
        Stage(142, "Успешно реализовано", "won"),
        Stage(143, "Закрыто и не реализовано", "lost"),
    )


def _b24_stages(prefix: str) -> tuple[Stage, ...]:
    p = prefix
    return (
        Stage(f"{p}NEW", "Новая", "open", 0.5, 1.0, 0.2),
        Stage(f"{p}PREPARATION", "Подготовка документов", "open", 3.0, 2.5, 0.4),
        Stage(f"{p}PREPAYMENT_INVOICE", "Счёт на предоплату", "open", 5.0, 1.5, 0.2),
        Stage(f"{p}EXECUTING", "В работе", "open", 6.0, 1.5, 0.15),
        Stage(f"{p}FINAL_INVOICE", "Финальный счёт", "open", 4.0, 1.0, 0.05),
        Stage(f"{p}WON", "Сделка успешна", "won"),
        Stage(f"{p}LOSE", "Сделка провалена", "lost"),
        Stage(f"{p}APOLOGY", "Анализ причины провала", "lost"),
    )


PIPELINES: tuple[Pipeline, ...] = (
    Pipeline(AMOCRM, 7010001, "Продажи", _amo_stages(61000010), is_main=True),
    Pipeline(AMOCRM, 7010002, "Телефония и поддержка", _amo_stages(61000020)),
    Pipeline(AMOCRM, 7010003, "Партнёрский канал", _amo_stages(61000030)),
    Pipeline(BITRIX24, 0, "Общая", _b24_stages("")),
    Pipeline(BITRIX24, 1, "Корпоративные клиенты", _b24_stages("C1:")),
)

LOSS_REASONS: tuple[tuple[int, str, float], ...] = (
    (4521, "Дорого", 0.30),
    (4522, "Выбрали конкурента", 0.22),
    (4523, "Нет бюджета", 0.18),
    (4524, "Не отвечает", 0.15),
    (4525, "Неактуально", 0.10),
    (4526, "Спам / дубль", 0.05),
)
# Bitrix24 has no loss reasons; a lost deal goes to LOSE or, for some, APOLOGY.

MALE_FIRST = (
    "Алексей",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Иван",
    "Михаил",
    "Павел",
    "Роман",
    "Олег",
    "Никита",
    "Артём",
    "Виктор",
    "Максим",
    "Егор",
    "Кирилл",
    "Денис",
)
FEMALE_FIRST = (
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Татьяна",
    "Наталья",
    "Ирина",
    "Юлия",
    "Светлана",
    "Екатерина",
    "Дарья",
    "Ксения",
    "Алина",
    "Вера",
    "Полина",
)
LAST = (
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
)
COMPANY_FORM = ("ООО", "ООО", "ООО", "АО", "ИП")
COMPANY_ADJ = (
    "Северный",
    "Быстрый",
    "Первый",
    "Новый",
    "Городской",
    "Технический",
    "Главный",
    "Промышленный",
    "Торговый",
    "Южный",
    "Восточный",
    "Цифровой",
    "Единый",
    "Сибирский",
)
COMPANY_NOUN = (
    "Альянс",
    "Проект",
    "Сервис",
    "Стандарт",
    "Ресурс",
    "Капитал",
    "Маркет",
    "Логистик",
    "Строй",
    "Трейд",
    "Холдинг",
    "Центр",
    "Вектор",
    "Импульс",
    "Гарант",
    "Партнёр",
)


def person_name(i: int) -> tuple[str, str]:
    """A deterministic (first, last) name for an index; female surnames take an -а."""
    female = (i * 2654435761 >> 7) % 2 == 1
    first_pool = FEMALE_FIRST if female else MALE_FIRST
    first = first_pool[(i * 7 + i // 13) % len(first_pool)]
    last = LAST[(i * 11 + i // 17) % len(LAST)]
    return first, last + ("а" if female else "")


def company_name(i: int) -> str:
    form = COMPANY_FORM[i % len(COMPANY_FORM)]
    adj = COMPANY_ADJ[(i // 5) % len(COMPANY_ADJ)]
    noun = COMPANY_NOUN[(i // 70 + i * 3) % len(COMPANY_NOUN)]
    if form == "ИП":
        first, last = person_name(i)
        return f"ИП {last} {first[0]}."
    return f'{form} "{adj} {noun}"'
