"""What the demo salons offer: company specs, price lists with visit rhythms, and the names of their clients.

Static data only; `generator` draws from it with one seeded `random.Random`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CompanySpec:
    """Static description of one demo company (its menu comes from `MENUS[kind]`)."""

    name: str
    timezone: str
    locale: str
    country: str
    kind: str
    phone_codes: tuple[str, ...]
    price_factor: float


@dataclass(frozen=True, slots=True)
class MenuItem:
    """One line of a price list: weights say how often female/male clients pick it as a favourite."""

    title: str
    category: int
    cost: int
    norm_days: int
    weight_female: int
    weight_male: int
    companion: str | None = None
    rare: bool = False
    one_off: bool = False  # booked once by a few clients, never as a rhythm (so it has no intervals)


# Companies 101, 102, ... take these in order; every entry has its own time zone (London, Berlin and
# New York have DST, New York a negative offset).
COMPANY_SPECS: tuple[CompanySpec, ...] = (
    CompanySpec("Салон «Лаванда»", "Europe/Moscow", "ru", "RU", "salon_ru", ("916", "926", "903", "985"), 1.0),
    CompanySpec(
        "Барбершоп «Борода и ножницы»",
        "Asia/Yekaterinburg",
        "ru",
        "RU",
        "barber_ru",
        ("912", "922", "950"),
        1.0,
    ),
    CompanySpec("Lavender Hair & Beauty", "Europe/London", "en", "GB", "salon_en", ("7911", "7700", "7480"), 1.0),
    CompanySpec("Студия красоты «Орхидея»", "Asia/Novosibirsk", "ru", "RU", "salon_ru", ("913", "923", "952"), 0.9),
    CompanySpec("Lavendel Beauty Studio", "Europe/Berlin", "en", "DE", "salon_en", ("151", "160", "176"), 1.1),
    CompanySpec("Салон «Жемчужина»", "Asia/Vladivostok", "ru", "RU", "salon_ru", ("914", "924"), 1.1),
    CompanySpec("Барбершоп «Топор»", "Europe/Samara", "ru", "RU", "barber_ru", ("917", "927"), 0.9),
    CompanySpec("Bloom Beauty Bar", "America/New_York", "en", "US", "salon_en", ("212", "646", "917"), 1.3),
)

CATEGORIES: dict[str, tuple[str, ...]] = {
    "salon_ru": (
        "Парикмахерские услуги",
        "Ногтевой сервис",
        "Брови и ресницы",
        "Массаж",
        "Косметология",
        "Депиляция",
        "Консультации",
    ),
    "barber_ru": ("Стрижки", "Борода и бритьё", "Консультации"),
    "salon_en": ("Hair", "Nails", "Brows & lashes", "Massage", "Skin care", "Waxing", "Consultations"),
}

# The consultation matches no category keyword and is booked once, never as a rhythm, so its pairs always
# land on the fallback level; the `rare` item is given to only two clients per company, so the per-service
# level is never reached for it.
MENUS: dict[str, tuple[MenuItem, ...]] = {
    "salon_ru": (
        MenuItem("Женская стрижка", 0, 2500, 40, 30, 0, "Укладка"),
        MenuItem("Мужская стрижка", 0, 1500, 28, 0, 60, "Оформление бороды"),
        MenuItem("Детская стрижка", 0, 1000, 35, 5, 4),
        MenuItem("Окрашивание волос", 0, 6000, 50, 18, 0, "Женская стрижка"),
        MenuItem("Тонирование", 0, 3500, 45, 6, 0, "Укладка"),
        MenuItem("Укладка", 0, 1500, 30, 5, 0),
        MenuItem("Оформление бороды", 0, 900, 21, 0, 12, "Мужская стрижка"),
        MenuItem("Маникюр с покрытием гель-лак", 1, 2200, 21, 30, 0, "Педикюр"),
        MenuItem("Маникюр классический", 1, 1200, 18, 8, 4, "Педикюр"),
        MenuItem("Педикюр", 1, 2800, 30, 14, 4, "Маникюр с покрытием гель-лак"),
        MenuItem("Коррекция бровей", 2, 900, 28, 14, 0, "Наращивание ресниц"),
        MenuItem("Наращивание ресниц", 2, 3000, 21, 10, 0, "Коррекция бровей"),
        MenuItem("Ламинирование ресниц", 2, 2500, 45, 0, 0, rare=True),
        MenuItem("Массаж спины", 3, 2000, 30, 6, 12),
        MenuItem("Чистка лица", 4, 3500, 45, 7, 2, "Коррекция бровей"),
        MenuItem("Шугаринг", 5, 1800, 35, 8, 0),
        MenuItem("Консультация стилиста", 6, 0, 120, 0, 0, one_off=True),
    ),
    "barber_ru": (
        MenuItem("Мужская стрижка", 0, 1400, 28, 0, 60, "Оформление бороды"),
        MenuItem("Стрижка машинкой", 0, 800, 21, 6, 25, "Оформление бороды"),
        MenuItem("Детская стрижка", 0, 900, 35, 40, 8),
        MenuItem("Оформление бороды", 1, 900, 21, 0, 30, "Мужская стрижка"),
        MenuItem("Королевское бритьё", 1, 1500, 30, 0, 8, "Мужская стрижка"),
        MenuItem("Тонирование бороды", 1, 1200, 30, 0, 0, rare=True),
        MenuItem("Консультация стилиста", 2, 0, 120, 0, 0, one_off=True),
    ),
    "salon_en": (
        MenuItem("Women's haircut", 0, 55, 40, 30, 0),
        MenuItem("Men's haircut", 0, 30, 28, 0, 60),
        MenuItem("Kids' haircut", 0, 20, 35, 4, 3),
        MenuItem("Colour & highlights", 0, 120, 50, 18, 0, "Women's haircut"),
        MenuItem("Gel manicure", 1, 35, 21, 28, 0, "Pedicure"),
        MenuItem("Pedicure", 1, 40, 30, 12, 3, "Gel manicure"),
        MenuItem("Brow shaping", 2, 18, 28, 14, 3, "Lash extensions"),
        MenuItem("Lash extensions", 2, 65, 21, 10, 0, "Brow shaping"),
        MenuItem("Lash lift", 2, 50, 42, 0, 0, rare=True),
        MenuItem("Massage", 3, 60, 30, 8, 12),
        MenuItem("Facial", 4, 70, 45, 8, 4, "Brow shaping"),
        MenuItem("Waxing", 5, 30, 35, 10, 3),
        MenuItem("Style consultation", 6, 0, 120, 0, 0, one_off=True),
    ),
}

FEMALE_SHARE = {"salon_ru": 0.85, "barber_ru": 0.06, "salon_en": 0.8}
STAFF_COUNT = {"salon_ru": 6, "barber_ru": 4, "salon_en": 5}
YEARLY_INFLATION = {"RU": 0.08, "GB": 0.04, "DE": 0.03, "US": 0.04}

RU_FEMALE = (
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Екатерина",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Юлия",
    "Дарья",
    "Алина",
    "Ксения",
    "Виктория",
    "Полина",
    "Анастасия",
    "Марина",
    "Валерия",
    "София",
    "Вероника",
)
RU_MALE = (
    "Александр",
    "Дмитрий",
    "Максим",
    "Сергей",
    "Андрей",
    "Алексей",
    "Иван",
    "Михаил",
    "Никита",
    "Артём",
    "Егор",
    "Павел",
    "Роман",
    "Владимир",
    "Кирилл",
    "Илья",
    "Денис",
    "Евгений",
    "Тимур",
    "Олег",
)
RU_SURNAMES = (  # masculine forms; all take "-а" in the feminine
    "Смирнов",
    "Иванов",
    "Кузнецов",
    "Попов",
    "Соколов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Петров",
    "Волков",
    "Соловьёв",
    "Васильев",
    "Зайцев",
    "Павлов",
    "Семёнов",
    "Голубев",
    "Виноградов",
    "Богданов",
    "Воробьёв",
    "Фёдоров",
    "Михайлов",
    "Беляев",
    "Тарасов",
    "Белов",
    "Ильин",
    "Никитин",
    "Сорокин",
)
EN_FEMALE = (
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Emily",
    "Sophie",
    "Grace",
    "Lily",
    "Chloe",
    "Ella",
    "Charlotte",
    "Jessica",
    "Hannah",
    "Lucy",
    "Mia",
    "Freya",
)
EN_MALE = (
    "Oliver",
    "George",
    "Harry",
    "Jack",
    "Jacob",
    "Noah",
    "Charlie",
    "Thomas",
    "James",
    "William",
    "Daniel",
)
EN_SURNAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "O'Brien",
)
DE_FEMALE = ("Lena", "Hannah", "Lea", "Anna", "Laura", "Sarah", "Julia", "Marie", "Sophie", "Jana", "Katrin")
DE_MALE = ("Lukas", "Leon", "Felix", "Jonas", "Paul", "Maximilian", "Tobias", "Jan", "Stefan")
DE_SURNAMES = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Schröder",
    "Krüger",
)
