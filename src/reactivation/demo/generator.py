"""Deterministic booking history shaped like the YClients REST API.

Clients, their visit rhythms and every edge case the pipeline must survive (churn at every overdue level,
no-shows, deletions, re-sent record versions, walk-ins, multi-service records, near-midnight times, DST,
malformed datetimes). One `random.Random(seed)` draws everything, so equal arguments give equal bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reactivation.demo.catalogue import (
    CATEGORIES,
    COMPANY_SPECS,
    DE_FEMALE,
    DE_MALE,
    DE_SURNAMES,
    EN_FEMALE,
    EN_MALE,
    EN_SURNAMES,
    FEMALE_SHARE,
    MENUS,
    RU_FEMALE,
    RU_MALE,
    RU_SURNAMES,
    STAFF_COUNT,
    YEARLY_INFLATION,
    CompanySpec,
    MenuItem,
)

_SLOT_FIRST_MINUTE = 9 * 60  # salons open at 09:00 local
_SLOTS = 45  # start times 09:00..20:00 every 15 minutes, so every appointment ends by the 21:00 closing
_FIRST_CLIENT_ID = 900001
_FIRST_SERVICE_ID = 5001
_FIRST_RECORD_ID = 3000001
_FIRST_VISIT_ID = 7000001
_BAD_DATETIMES = ("not-a-date", "0000-00-00 00:00:00")


@dataclass(slots=True)
class _Service:
    """A generated service of one company plus the hidden attributes that drive visit rhythms."""

    id: int
    item: MenuItem
    public: dict[str, Any]


@dataclass(slots=True)
class _Company:
    """A generated company with its zone, staff, services and the instant the demo snapshot is taken."""

    id: int
    spec: CompanySpec
    tz: ZoneInfo
    staff: list[int]
    services: list[_Service]
    snapshot: datetime  # as_of 00:00 local, in UTC: every create/change time lies before it
    dst_offsets: tuple[timedelta, timedelta]  # (winter, summer) UTC offsets; equal when the zone has no DST


@dataclass(slots=True)
class _Client:
    """A generated client: public JSON, the stub embedded in records, and the behaviour profile."""

    company: _Company
    public: dict[str, Any]
    stub: dict[str, Any]
    female: bool
    favourites: list[_Service]
    factor: float
    staff_id: int
    slot: int
    profile: str = "active"
    future: bool = False
    pause: bool = False


@dataclass(slots=True)
class _Record:
    """One appointment before rendering; edge-case passes mutate it, `_render` turns it into JSON."""

    company: _Company
    owner: _Client | None
    services: list[_Service]
    day: int  # proleptic ordinal of the local date
    minute: int  # local minute of the day
    staff_id: int
    id: int = 0
    attendance: int = 1
    deleted: bool = False
    special: bool = False  # already carries an edge case that others must not mask
    malformed: str = ""  # "", "empty", "missing" or "bad"
    versioned: bool = False


@dataclass
class DemoData:
    """Generated YClients-shaped payloads; `records` may hold older versions of a record before its final one."""

    companies: list[dict]
    services: list[dict]
    clients: list[dict]
    records: list[dict]
    staff: list[dict] = field(default_factory=list)  # the masters the records name (`GET /company/{id}/staff`)

    def write_jsonl(self, directory: str | Path) -> dict[str, int]:
        """Write one UTF-8 JSONL file per entity into `directory` and return {filename: line_count}."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for name, rows in (
            ("companies.jsonl", self.companies),
            ("services.jsonl", self.services),
            ("clients.jsonl", self.clients),
            ("records.jsonl", self.records),
            ("staff.jsonl", self.staff),
        ):
            with (out / name).open("w", encoding="utf-8", newline="\n") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
                    fh.write("\n")
            counts[name] = len(rows)
        return counts


def generate(
    n_clients: int = 600, years: float = 3.0, seed: int = 42, as_of: date | None = None, n_companies: int = 3
) -> DemoData:
    """Generate `years` of booking history up to `as_of` (plus bookings up to 30 days ahead), reproducibly."""
    if n_companies < 1:
        raise ValueError("n_companies must be at least 1")
    as_of = as_of or date.today()
    rng = random.Random(seed)
    end = as_of.toordinal()
    start = end - max(1, int(years * 365.25))
    companies = _make_companies(n_companies, as_of, rng)
    clients = _make_clients(companies, n_clients, end - start, rng)
    records: list[_Record] = []
    for client in clients:
        records.extend(_client_records(client, start, end, rng))
    _add_short_gaps_and_same_day_duplicates(records, end, rng)
    _add_second_services(records, rng)
    records.extend(_walk_ins(companies, len(records), start, end, rng))
    _move_near_midnight(companies, records, end, rng)
    records.sort(key=lambda r: (r.company.id, r.day, r.minute, r.owner.public["id"] if r.owner else 0))
    for number, record in enumerate(records):
        record.id = _FIRST_RECORD_ID + number
    _set_attendance_and_deletions(records, end, rng)
    _mark_malformed_and_versioned(records, end, rng)
    keys: list[int] = []
    rows: list[dict[str, Any]] = []
    for record in records:
        _render(record, end, rng, keys, rows)
    order = sorted(range(len(rows)), key=keys.__getitem__)
    return DemoData(
        companies=[_company_json(c) for c in companies],
        services=[s.public for c in companies for s in c.services],
        clients=[c.public for c in clients],
        records=[rows[i] for i in order],
        staff=_staff_json(companies, random.Random(f"staff-{seed}")),  # own stream: the history stays as it was
    )


def _staff_json(companies: list[_Company], rng: random.Random) -> list[dict[str, Any]]:
    """Each company's masters by first name, as salons list them; the last one has left (fired), so messages
    to that master's regulars name nobody."""
    staff = []
    for company in companies:
        for position, staff_id in enumerate(company.staff, start=1):
            female = rng.random() < FEMALE_SHARE[company.spec.kind]
            name = _name(company.spec.country, female, rng).split()[0]
            fired = int(position == len(company.staff))
            staff.append({"id": staff_id, "company_id": company.id, "name": name, "fired": fired,
                          "specialization": "barber" if company.spec.kind == "barber_ru" else "stylist"})  # fmt: skip
    return staff


def _company_json(company: _Company) -> dict[str, Any]:
    """Public company payload."""
    spec = company.spec
    return {
        "company_id": company.id,
        "name": spec.name,
        "timezone": spec.timezone,
        "locale": spec.locale,
        "country": spec.country,
        "booking_url": f"https://n{company.id * 1000 + 471}.yclients.com/",
    }


def _make_companies(n_companies: int, as_of: date, rng: random.Random) -> list[_Company]:
    """Companies 101.. with staff ids 10*(i+1)+k and globally numbered services; specs repeat after 8."""
    companies: list[_Company] = []
    service_id = _FIRST_SERVICE_ID
    for index in range(n_companies):
        spec = COMPANY_SPECS[index % len(COMPANY_SPECS)]
        if index >= len(COMPANY_SPECS):
            spec = CompanySpec(
                f"{spec.name} #{index // len(COMPANY_SPECS) + 1}",
                spec.timezone,
                spec.locale,
                spec.country,
                spec.kind,
                spec.phone_codes,
                spec.price_factor,
            )
        company_id = 101 + index
        tz = ZoneInfo(spec.timezone)
        categories = CATEGORIES[spec.kind]
        services: list[_Service] = []
        for item in MENUS[spec.kind]:
            cost = _round_price(item.cost * spec.price_factor * rng.uniform(0.95, 1.05), spec.country)
            public = {
                "id": service_id,
                "company_id": company_id,
                "title": item.title,
                "category_id": 70 + 10 * index + item.category + 1,
                "category_title": categories[item.category],
                "cost": cost,
            }
            services.append(_Service(service_id, item, public))
            service_id += 1
        winter = datetime(as_of.year, 1, 15, 12, tzinfo=tz).utcoffset() or timedelta(0)
        summer = datetime(as_of.year, 7, 15, 12, tzinfo=tz).utcoffset() or timedelta(0)
        companies.append(
            _Company(
                id=company_id,
                spec=spec,
                tz=tz,
                staff=[10 * (index + 1) + k for k in range(1, STAFF_COUNT[spec.kind] + 1)],
                services=services,
                snapshot=datetime(as_of.year, as_of.month, as_of.day, tzinfo=tz).astimezone(UTC),
                dst_offsets=(winter, summer),
            )
        )
    return companies


def _round_price(value: float, country: str) -> int:
    """Round to 50 roubles in Russia and to whole units elsewhere, keeping non-free prices positive."""
    step = 50 if country == "RU" else 1
    if value <= 0:
        return 0
    return max(step, round(value / step) * step)


def _make_clients(companies: list[_Company], n_clients: int, span: int, rng: random.Random) -> list[_Client]:
    """Split clients evenly over companies and assign names, phones, flags, favourites and profiles."""
    clients: list[_Client] = []
    client_id = _FIRST_CLIENT_ID
    for index, company in enumerate(companies):
        size = n_clients // len(companies) + (1 if index < n_clients % len(companies) else 0)
        group: list[_Client] = []
        for _ in range(size):
            group.append(_make_client(company, client_id, rng))
            client_id += 1
        _assign_profiles(group, span, rng)
        clients.extend(group)
    n_bad_phone = round(0.03 * len(clients))
    n_deleted = round(0.02 * len(clients))
    n_sms_not = round(0.02 * len(clients))
    chosen = rng.sample(clients, min(len(clients), n_bad_phone + n_deleted + n_sms_not))
    for number, client in enumerate(chosen[:n_bad_phone]):  # cycle so that every kind of bad phone occurs
        code = client.company.spec.phone_codes[0]
        truncated = {"RU": f"+7 ({code}) 12", "GB": "+44 79", "DE": "+49 15", "US": "+1 (64"}
        bad = ("", None, "123", truncated[client.company.spec.country])[number % 4]
        client.public["phone"] = bad
        client.stub["phone"] = bad
    for client in chosen[n_bad_phone : n_bad_phone + n_deleted]:
        client.public["deleted"] = True
    for client in chosen[n_bad_phone + n_deleted :]:
        client.public["sms_not"] = 1
    return clients


def _make_client(company: _Company, client_id: int, rng: random.Random) -> _Client:
    """One client with a locale-appropriate name, a phone in one of the real-world formats and favourites."""
    spec = company.spec
    female = rng.random() < FEMALE_SHARE[spec.kind]
    name = _name(spec.country, female, rng)
    phone = _phone(spec.country, spec.phone_codes, rng)
    public = {
        "id": client_id,
        "company_id": company.id,
        "name": name,
        "phone": phone,
        "deleted": False,
        "sms_not": 0,
    }
    weights = [s.item.weight_female if female else s.item.weight_male for s in company.services]
    candidates = [(s, w) for s, w in zip(company.services, weights) if w > 0]
    favourites: list[_Service] = []
    for _ in range(rng.choices((1, 2, 3), weights=(45, 35, 20))[0]):
        if not candidates:
            break
        pick = rng.choices(range(len(candidates)), weights=[w for _, w in candidates])[0]
        favourites.append(candidates.pop(pick)[0])
    return _Client(
        company=company,
        public=public,
        stub={"id": client_id, "name": name, "phone": phone},
        female=female,
        favourites=favourites,
        factor=rng.uniform(0.7, 1.4),
        staff_id=rng.choice(company.staff),
        slot=draw_int(rng, 0, _SLOTS - 1),
    )


def _name(country: str, female: bool, rng: random.Random) -> str:
    """Full name (or, like in real CRMs, sometimes just a first name) in the company's language."""
    if country == "RU":
        first = rng.choice(RU_FEMALE if female else RU_MALE)
        surname = rng.choice(RU_SURNAMES) + ("а" if female else "")
    elif country == "DE":
        first = rng.choice(DE_FEMALE if female else DE_MALE)
        surname = rng.choice(DE_SURNAMES)
    else:
        first = rng.choice(EN_FEMALE if female else EN_MALE)
        surname = rng.choice(EN_SURNAMES)
    return first if rng.random() < 0.1 else f"{first} {surname}"


def _phone(country: str, codes: tuple[str, ...], rng: random.Random) -> str:
    """A mobile number written the way salon admins actually type it."""
    code = rng.choice(codes)
    if country == "RU":
        s = f"{rng.randrange(10**7):07d}"
        formats = (
            f"+7 {code} {s[:3]}-{s[3:5]}-{s[5:]}",
            f"8{code}{s}",
            f"+7{code}{s}",
            f"8 ({code}) {s[:3]}-{s[3:5]}-{s[5:]}",
            f"7{code} {s}",
        )
        return rng.choices(formats, weights=(30, 30, 25, 10, 5))[0]
    if country == "GB":
        s = f"{rng.randrange(10**6):06d}"
        return rng.choice((f"+44 {code} {s}", f"0{code} {s}", f"+44{code}{s}"))
    if country == "DE":
        s = f"{rng.randrange(10**8):08d}"
        return rng.choice((f"+49 {code} {s}", f"0{code} {s}", f"+49{code}{s}"))
    s = f"{rng.randrange(10**7):07d}"
    return rng.choice((f"+1 ({code}) {s[:3]}-{s[3:]}", f"{code}-{s[:3]}-{s[3:]}", f"+1{code}{s}"))


def _assign_profiles(group: list[_Client], span: int, rng: random.Random) -> None:
    """Exact per-company shares: 15% new, 4% one-off, 32% churned (four overdue levels), rest active.

    Also flags future bookers (~8% of active+new), long-pause clients and the two rare-service clients.
    """
    m = len(group)
    counts = [
        ("new", round(0.15 * m)),
        ("once", round(0.04 * m)),
        ("due", round(0.064 * m)),
        ("overdue", round(0.08 * m)),
        ("far", round(0.08 * m)),
        ("lost" if span >= 420 else "far", round(0.096 * m)),
    ]
    labels: list[str] = []
    for label, count in counts:
        labels.extend([label] * min(count, m - len(labels)))
    labels.extend(["active"] * (m - len(labels)))
    rng.shuffle(labels)
    for client, label in zip(group, labels):
        client.profile = label
    active = [c for c in group if c.profile == "active"]
    bookable = [c for c in group if c.profile in ("active", "new")]
    for client in rng.sample(bookable, min(len(bookable), max(1, round(0.08 * len(bookable))))):
        client.future = True
    calm = [c for c in active if not c.future]
    if span >= 700:
        for client in rng.sample(calm, min(len(calm), max(1, round(0.05 * len(active))))):
            client.pause = True
    regulars = [c for c in group if c.profile not in ("new", "once") and not c.future and not c.pause]
    rare = [s for s in group[0].company.services if s.item.rare] if group else []
    for client in rng.sample(regulars, min(len(regulars), 2)):
        client.favourites.extend(rare)


def _client_records(client: _Client, start: int, end: int, rng: random.Random) -> list[_Record]:
    """Visits of one client: each favourite repeats at rhythm = norm x client factor with +-20% noise.

    The last visit of the main favourite is placed so that at `end` the client sits at the overdue level
    of its profile; history is then generated backwards down to the client's first day.
    """
    if not client.favourites:
        return []
    main = client.favourites[0]
    rhythm = {s.id: s.item.norm_days * client.factor for s in client.favourites}
    days: list[tuple[int, _Service]] = []
    if client.profile == "once":
        days.append((draw_int(rng, start, max(start, end - 60)), main))
    elif client.profile == "new":
        first = max(start, end - draw_int(rng, 3, 100))
        days.append((first, main))
        second = first + round(rhythm[main.id] * rng.uniform(0.8, 1.2))
        if rng.random() < 0.5 and second < end and not client.future:
            days.append((second, main))
    else:
        days = _regular_days(client, rhythm, start, end, rng)
    if client.future:
        days.append((end + draw_int(rng, 1, 30), main))
    one_offs = [s for s in client.company.services if s.item.one_off]
    if one_offs and rng.random() < 0.06:
        days.append((draw_int(rng, start, end - 1), one_offs[0]))
    return [_new_record(client, service, day, rng) for day, service in days]


def _days_since_last(client: _Client, r_main: float, span: int, rng: random.Random) -> int:
    """Days between the main favourite's last visit and as_of, i.e. the profile's overdue level."""
    if client.profile == "due":
        gap = rng.uniform(1.1, 1.4) * r_main
    elif client.profile == "overdue":
        gap = rng.uniform(1.7, 2.8) * r_main
    elif client.profile == "far":
        gap = min(rng.uniform(3.3, 5.0) * r_main, 355.0)
    elif client.profile == "lost":
        gap = draw_int(rng, 380, max(380, span - 20))
    elif client.future:  # booked ahead although already due: the booking must exclude them
        gap = rng.uniform(0.9, 1.6) * r_main
    else:
        gap = rng.uniform(0.05, 1.05) * r_main
    return max(1, round(gap))


def _regular_days(
    client: _Client, rhythm: dict[int, float], start: int, end: int, rng: random.Random
) -> list[tuple[int, _Service]]:
    """Backward-generated (day, service) pairs of a regular (active or churned) client."""
    main = client.favourites[0]
    r_main = rhythm[main.id]
    last_main = max(start, end - _days_since_last(client, r_main, end - start, rng))
    if client.pause or rng.random() < 0.4:
        first = start
    else:
        first = start + draw_int(rng, 0, max(0, last_main - start - round(r_main)))
    days: list[tuple[int, _Service]] = []
    lasts: list[tuple[int, _Service]] = []
    for service in client.favourites:
        if service is main:
            last = last_main
        elif client.profile == "active":
            last = end - draw_int(rng, 1, max(1, round(1.05 * rhythm[service.id])))
        else:
            last = last_main - draw_int(rng, 0, max(0, round(rhythm[service.id])))
        lasts.append((max(last, first), service))
    for last, service in lasts:
        day = last
        while day >= first:
            days.append((day, service))
            day -= max(1, round(rhythm[service.id] * rng.uniform(0.8, 1.2)))
    if client.pause:
        hi = min(last for last, _ in lasts) - 20
        room = hi - first - 40
        if room >= 370:
            length = draw_int(rng, 370, min(540, room))
            gap_start = first + 40 + draw_int(rng, 0, room - length)
            days = [(d, s) for d, s in days if not gap_start < d < gap_start + length]
    return days


def _new_record(client: _Client, service: _Service, day: int, rng: random.Random) -> _Record:
    """A single-service appointment near the client's usual time, usually with their usual master."""
    slot = min(_SLOTS - 1, max(0, client.slot + draw_int(rng, -4, 4)))
    staff = client.staff_id if rng.random() < 0.8 else rng.choice(client.company.staff)
    return _Record(client.company, client, [service], day, _SLOT_FIRST_MINUTE + 15 * slot, staff)


def _regular_past(records: list[_Record], end: int) -> list[_Record]:
    """Past records of clients that are neither new nor one-off (so their visit counts stay intact)."""
    return [r for r in records if r.owner and r.day < end and r.owner.profile not in ("new", "once")]


def _add_short_gaps_and_same_day_duplicates(records: list[_Record], end: int, rng: random.Random) -> None:
    """Touch-up visits 1-6 days after a visit (interval < 7 days) and a second same-day record."""
    pool = [r for r in _regular_past(records, end) if r.day < end - 7]
    n_short = max(3, round(0.012 * len(pool)))
    n_same = max(3, round(0.002 * len(pool)))
    picks = rng.sample(pool, min(len(pool), n_short + n_same))
    for record in picks[:n_short]:
        assert record.owner is not None
        records.append(_new_record(record.owner, record.services[0], record.day + draw_int(rng, 1, 6), rng))
    for record in picks[n_short:]:
        assert record.owner is not None
        slot = ((record.minute - _SLOT_FIRST_MINUTE) // 15 + draw_int(rng, 8, 20)) % _SLOTS
        twin = _Record(
            record.company,
            record.owner,
            [record.services[0]],
            record.day,
            _SLOT_FIRST_MINUTE + 15 * slot,
            record.staff_id,
            special=True,
        )
        record.special = True
        records.append(twin)


def _add_second_services(records: list[_Record], rng: random.Random) -> None:
    """~10% of client records get a companion service; a few list the same service twice."""
    pool = [r for r in records if r.owner]
    n_pair = round(0.10 * len(pool))
    n_twice = max(3, round(0.004 * len(pool)))
    picks = rng.sample(pool, min(len(pool), n_pair + n_twice))
    for record in picks[:n_pair]:
        assert record.owner is not None
        first = record.services[0]
        by_title = {s.item.title: s for s in record.company.services}
        companion = by_title.get(first.item.companion) if first.item.companion else None
        if companion is None:
            female = record.owner.female
            options = [
                s
                for s in record.company.services
                if s is not first
                and not (s.item.rare or s.item.one_off)
                and (s.item.weight_female if female else s.item.weight_male)
            ]
            companion = rng.choice(options) if options else None
        if companion is not None:
            record.services.append(companion)
    for record in picks[n_pair:]:
        record.services.append(record.services[0])


def _walk_ins(companies: list[_Company], n_records: int, start: int, end: int, rng: random.Random) -> list[_Record]:
    """~2% extra past records with no client (walk-ins) spread over companies and history."""
    out: list[_Record] = []
    for _ in range(max(3 if n_records else 0, round(n_records * 0.02 / 0.98))):
        company = rng.choice(companies)
        options = [s for s in company.services if not (s.item.rare or s.item.one_off)]
        weights = [s.item.weight_female + s.item.weight_male for s in options]
        service = rng.choices(options, weights=weights)[0]
        minute = _SLOT_FIRST_MINUTE + 15 * draw_int(rng, 0, _SLOTS - 1)
        out.append(_Record(company, None, [service], draw_int(rng, start, end - 1), minute, rng.choice(company.staff)))
    return out


def _move_near_midnight(companies: list[_Company], records: list[_Record], end: int, rng: random.Random) -> None:
    """Per company, move a few past records to 00:15-00:45 local on dates whose UTC date differs.

    Zones east of UTC (London only in summer) get 00:xx, which is the previous UTC day; zones west of
    UTC get 23:xx, the next UTC day. DST zones additionally get a few 23:30 records in summer.
    """
    for company in companies:
        own = [r for r in _regular_past(records, end) if r.company is company and not r.special]
        east = [r for r in own if _rough_offset(company, r.day) > timedelta(0)]
        west = [r for r in own if _rough_offset(company, r.day) < timedelta(0)]
        k = max(3, round(0.001 * len(own)))
        for record in rng.sample(east, min(len(east), k)):
            record.minute = rng.choice((15, 30, 45))
            record.special = True
        for record in rng.sample(west, min(len(west), k)):
            record.minute = 23 * 60 + rng.choice((15, 30, 45))
            record.special = True
        if company.dst_offsets[0] != company.dst_offsets[1]:
            summer_pool = [r for r in own if not r.special and 6 <= date.fromordinal(r.day).month <= 8]
            for record in rng.sample(summer_pool, min(len(summer_pool), k)):
                record.minute = 23 * 60 + 30
                record.special = True


def _rough_offset(company: _Company, day: int) -> timedelta:
    """UTC offset around midnight of `day`: the summer one in May-September (safely inside any DST)."""
    winter, summer = company.dst_offsets
    return summer if 5 <= date.fromordinal(day).month <= 9 else winter


def _set_attendance_and_deletions(records: list[_Record], end: int, rng: random.Random) -> None:
    """Past: ~5% no-shows (-1), ~1.2% still 0, ~0.8% still 2; future: 0 or 2; ~3% of all deleted."""
    past = [r for r in records if r.owner and r.day < end]
    n_noshow = round(0.05 * len(past))
    n_zero = max(2, round(0.012 * len(past)))
    n_two = max(2, round(0.008 * len(past)))
    picks = rng.sample(past, min(len(past), n_noshow + n_zero + n_two))
    for index, record in enumerate(picks):
        record.attendance = -1 if index < n_noshow else 0 if index < n_noshow + n_zero else 2
    for record in records:
        if record.day >= end:
            record.attendance = 2 if rng.random() < 0.4 else 0
    for record in rng.sample(records, min(len(records), round(0.03 * len(records)))):
        record.deleted = True
        if rng.random() < 0.5:
            record.attendance = 0


def _mark_malformed_and_versioned(records: list[_Record], end: int, rng: random.Random) -> None:
    """Break a few records (empty services, missing or unparsable datetime); re-send ~10% as versions.

    A third of the deleted records (at least two) are among the versioned ones, so that some changes are
    deletions (older version deleted=false, newer deleted=true).
    """
    pool = [r for r in records if r.owner and r.day < end and not r.special and not r.deleted]
    n_empty = max(3, round(0.0005 * len(pool)))
    n_missing = max(2, round(0.0002 * len(pool)))
    n_bad = max(2, round(0.0002 * len(pool)))
    kinds = ["empty"] * n_empty + ["missing"] * n_missing + ["bad"] * n_bad
    for record, kind in zip(rng.sample(pool, min(len(pool), len(kinds))), kinds):
        record.malformed = kind
        record.special = True
    deleted = [r for r in records if r.deleted and not r.special]
    kept = [r for r in records if not r.deleted and not r.special]
    n_deleted = min(len(deleted), max(2, len(deleted) // 3))
    n_kept = min(len(kept), max(0, round(0.10 * len(records)) - n_deleted))
    for record in rng.sample(deleted, n_deleted) + rng.sample(kept, n_kept):
        record.versioned = True


def _render(record: _Record, end: int, rng: random.Random, keys: list[int], rows: list[dict[str, Any]]) -> None:
    """Append the JSON versions of one record (older first) to `rows` and their sort keys to `keys`.

    A key packs (change instant, record id, version) into one int: sorting plain ints keeps the output in
    change-feed order without allocating millions of tuples for the garbage collector to scan.
    """
    company = record.company
    dt = _instant(company, record.day, record.minute)
    create = dt - timedelta(seconds=_booking_lead(record, rng))
    snapshot = company.snapshot
    if create > snapshot - timedelta(seconds=300):
        create = snapshot - timedelta(seconds=draw_int(rng, 300, 7 * 86400))
    if record.day >= end:
        change = create + timedelta(seconds=draw_int(rng, 120, max(120, int((snapshot - create).total_seconds()) - 1)))
    elif record.deleted:
        latest = min(dt + timedelta(days=2), snapshot - timedelta(seconds=1))
        change = create + timedelta(seconds=draw_int(rng, 120, max(120, int((latest - create).total_seconds()))))
    else:
        change = min(dt + timedelta(seconds=draw_int(rng, 1200, 10800)), snapshot - timedelta(seconds=1))
    lines = [_service_line(company, s, record.day, end, rng) for s in record.services]
    final: dict[str, Any] = {
        "id": record.id,
        "company_id": company.id,
        "client": dict(record.owner.stub) if record.owner else None,
        "staff_id": record.staff_id,
        "datetime": _iso(company, dt),
        "services": [] if record.malformed == "empty" else lines,
        "attendance": record.attendance,
        "deleted": record.deleted,
        "visit_id": _FIRST_VISIT_ID + record.id - _FIRST_RECORD_ID,
        "create_date": _iso(company, create),
        "last_change_date": _iso(company, change),
    }
    if record.malformed == "missing":
        del final["datetime"]
    elif record.malformed == "bad":
        final["datetime"] = _BAD_DATETIMES[record.id % len(_BAD_DATETIMES)]
    if not record.versioned:
        keys.append(_sort_key(change, record.id, 0))
        rows.append(final)
        return
    older = _older_version(record, final, create, end, rng)
    middle = create + timedelta(seconds=draw_int(rng, 1, int((change - create).total_seconds()) - 1))
    older["last_change_date"] = _iso(company, middle)
    if rng.random() < 0.15:
        first = dict(older, attendance=0, deleted=False, last_change_date=_iso(company, create))
        keys.append(_sort_key(create, record.id, 0))
        rows.append(first)
    keys.extend((_sort_key(middle, record.id, 1), _sort_key(change, record.id, 2)))
    rows.extend((older, final))


def _older_version(
    record: _Record, final: dict[str, Any], create: datetime, end: int, rng: random.Random
) -> dict[str, Any]:
    """The state the record had before its last change: not yet deleted, other attendance, service or time."""
    older = dict(final)
    if record.deleted:
        older["deleted"] = False
        older["attendance"] = record.attendance if rng.random() < 0.5 else 0
        return older
    kind = rng.choices(("attendance", "services", "reschedule"), weights=(60, 20, 20))[0]
    if kind == "attendance":
        older["attendance"] = {0: 2, 2: 0}.get(record.attendance, rng.choice((0, 2)))
        return older
    older["attendance"] = 0 if record.day < end else record.attendance
    company = record.company
    if kind == "services":
        options = [s for s in company.services if s is not record.services[0] and not (s.item.rare or s.item.one_off)]
        older["services"] = [_service_line(company, rng.choice(options), record.day, end, rng)]
    else:
        shift = draw_int(rng, 1, 5)
        minute = _SLOT_FIRST_MINUTE + 15 * draw_int(rng, 0, _SLOTS - 1)
        moved = _instant(company, record.day - shift, minute)
        if moved <= create or record.day - shift == end:  # a booking cannot predate its creation
            moved = _instant(company, record.day + shift + (record.day + shift == end), minute)
        older["datetime"] = _iso(company, moved)
    return older


def _booking_lead(record: _Record, rng: random.Random) -> int:
    """Seconds between booking creation and appointment: walk-ins minutes, most bookings days ahead."""
    if record.owner is None:
        return draw_int(rng, 0, 1200)
    u = rng.random()
    if u < 0.7:
        return draw_int(rng, 86400, 30 * 86400)
    if u < 0.9:
        return draw_int(rng, 3600, 86400)
    return draw_int(rng, 600, 3600)


def _service_line(company: _Company, service: _Service, day: int, end: int, rng: random.Random) -> dict[str, Any]:
    """A record's service line: today's price-list cost deflated to the visit date, sometimes discounted."""
    country = company.spec.country
    years_back = (end - day) / 365.25
    first_cost = _round_price(service.public["cost"] / (1 + YEARLY_INFLATION[country]) ** years_back, country)
    cost = first_cost
    if first_cost and rng.random() < 0.12:
        cost = min(first_cost, _round_price(first_cost * (1 - rng.choice((0.05, 0.1, 0.15, 0.2))), country))
    return {
        "id": service.id,
        "title": service.item.title,
        "cost": cost,
        "first_cost": first_cost,
        "amount": 1,
    }


def _sort_key(instant: datetime, record_id: int, version: int) -> int:
    """Order by change instant, then record id, then version (ids stay far below 10**9)."""
    return (int(instant.timestamp()) * 10**9 + record_id) * 4 + version


def draw_int(rng: random.Random, low: int, high: int) -> int:
    """Inclusive random integer from one `rng.random()` draw; `randint` is ~3x slower and dominated the run."""
    return low + int(rng.random() * (high - low + 1))


def _instant(company: _Company, day: int, minute: int) -> datetime:
    """UTC instant of a local wall-clock time (our times never fall in a DST gap or fold)."""
    d = date.fromordinal(day)
    local = datetime(d.year, d.month, d.day, minute // 60, minute % 60, tzinfo=company.tz)
    return local.astimezone(UTC)


def _iso(company: _Company, instant: datetime) -> str:
    """ISO 8601 text with the company's local UTC offset at that instant."""
    return instant.astimezone(company.tz).isoformat()
