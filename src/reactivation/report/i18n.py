"""Report wording in Russian and English, with numbers and dates written the way each audience reads them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from reactivation.messages.render import ru_plural

NBSP = "\u00a0"
MINUS = "\u2212"
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# Noun and verb forms by count: Russian one / few / many, English one / other.
PLURALS: dict[str, dict[str, tuple[str, ...]]] = {
    "ru": {
        "client": ("клиент", "клиента", "клиентов"),
        "message": ("сообщение", "сообщения", "сообщений"),
        "day": ("день", "дня", "дней"),
        "day_gen": ("дня", "дней", "дней"),
    },
    "en": {
        "client": ("client", "clients"),
        "message": ("message", "messages"),
        "day": ("day", "days"),
        "day_gen": ("day", "days"),
    },
}

GROUP_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "ru": {
        "tone": {"gentle": "мягкое напоминание", "offer": "с предложением", "win_back": "«давно не виделись»"},
        "interval_level": {
            "personal": "личный ритм клиента",
            "service": "типично для услуги",
            "industry": "отраслевая норма",
            "fallback": "по умолчанию",
        },
    },
    "en": {
        "tone": {"gentle": "gentle reminder", "offer": "with an offer", "win_back": "“we miss you”"},
        "interval_level": {
            "personal": "client's own rhythm",
            "service": "typical for the service",
            "industry": "industry norm",
            "fallback": "default",
        },
    },
}

LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "report_title": "Возврат клиентов: результаты",
        "all_companies": "Все салоны",
        "period": "Период",
        "period_empty": "данных пока нет",
        "generated": "Сформирован",
        "hl_sent": "Отправлено сообщений",
        "hl_conversions": "Записались после сообщения",
        "hl_conversions_note": "из {matured} с закрытым окном",
        "hl_rate": "Записались с сообщением",
        "hl_holdout_rate": "Записались без сообщения (контроль)",
        "hl_uplift": "Прирост",
        "hl_uplift_ci": "95 % интервал: {low} … {high}",
        "hl_revenue": "Выручка от записей после сообщений",
        "hl_matured": (
            "Доли посчитаны по {matured} из {sent} отправленных сообщений: у остальных {days}-дневное окно "
            "ещё не закрылось. Контрольная группа: {holdout} {clients} с закрытым окном."
        ),
        "verdict_no_matured": (
            "Пока рано делать выводы: ни у одного сообщения ещё не закончились {days} дней, "
            "за которые засчитывается запись."
        ),
        "verdict_no_holdout": "Сравнивать пока не с чем: в контрольной группе ещё нет клиентов с закрытым окном.",
        "verdict_positive": (
            "Сообщения работают: с ними записывается на {uplift} больше клиентов, чем без них "
            "(95 % интервал — от {low} до {high})."
        ),
        "verdict_negative": (
            "Сообщения пока не помогают: с ними записывается на {uplift} меньше клиентов, чем без них "
            "(95 % интервал — от {low} до {high})."
        ),
        "verdict_unclear": (
            "Пока нельзя сказать, что сообщения работают лучше, чем без них: разница {uplift} может быть случайной "
            "(95 % интервал — от {low} до {high} — включает ноль)."
        ),
        "verdict_positive_small": (
            "Похоже, сообщения помогают: с ними записывается на {uplift} больше клиентов, чем без них "
            "(95 % интервал — от {low} до {high})."
        ),
        "verdict_negative_small": (
            "Похоже, сообщения не помогают: с ними записывается на {uplift} меньше клиентов, чем без них "
            "(95 % интервал — от {low} до {high})."
        ),
        "verdict_small": "Данных пока мало (меньше {min} клиентов в одной из групп), вывод ещё может измениться.",
        "companies_title": "По салонам",
        "col_company": "Салон",
        "how_title": "Как читать этот отчёт",
        "how_holdout": (
            "<b>Контрольная группа.</b> Небольшая случайная часть клиентов, которым пора вернуться (обычно 10 %), "
            "сообщения не получает. Сравнивая, как часто записываются клиенты с сообщением и без него, мы видим, "
            "сколько записей принесли именно сообщения, а не сезон или привычка."
        ),
        "how_uplift": (
            "<b>Прирост</b> — разница между долей записавшихся с сообщением и без него, в процентных пунктах "
            "(п.&nbsp;п.): 18 % против 6 % — это +12 п.&nbsp;п."
        ),
        "how_interval": (
            "<b>95 % интервал.</b> Клиентов пока немного, поэтому часть разницы может быть случайной. Интервал — "
            "диапазон, в котором настоящий прирост лежит с вероятностью 95 %. Целиком выше нуля — сообщения "
            "действительно помогают; захватывает ноль — пока нельзя исключить, что разницы нет. Чем больше "
            "сообщений, тем уже интервал. Группы, где меньше {min} клиентов, помечены «мало данных»."
        ),
        "how_attribution": (
            "<b>Что засчитывается.</b> Запись засчитывается сообщению, если клиент записался в течение {days} дней "
            "после него; выручка — только по состоявшимся визитам. Доли считаются только по сообщениям, у которых "
            "эти {days} дней уже прошли."
        ),
        "how_bars": (
            "<b>Планки на графиках</b> — 95 % интервал Уилсона для каждой доли; интервал прироста — нормальное "
            "приближение для разности двух долей."
        ),
        "no_data": "Данных пока нет",
        "small_sample": "мало данных",
        "no_group_data": "нет данных",
        "n_label": "n = {treated} / {holdout}",
        "ci_short": "95 %: {bounds}",
        "treated": "Получили сообщение",
        "holdout": "Контроль: без сообщения",
        "bars_note": (
            "Планки — 95 % интервал Уилсона. Над группами — прирост в п. п. и его 95 % интервал. "
            "n — клиентов с сообщением / в контроле."
        ),
        "funnel_title": "Путь клиентов: от активных до записавшихся",
        "funnel_clients": "Клиенты на {date}",
        "funnel_messages": "Сообщения за период",
        "step_active": "Активные клиенты",
        "step_due": "Пора вернуться",
        "step_excluded": "Исключены (по причинам)",
        "step_due_after": "Осталось после исключений",
        "step_holdout": "Контроль: без сообщения",
        "step_queued": "Поставлено в очередь",
        "step_sent": "Отправлено",
        "step_converted": "Записались после сообщения",
        "reason_future_booking": "уже записаны",
        "reason_opted_out": "отписались",
        "reason_client_deleted": "карточка удалена",
        "reason_invalid_phone": "неверный телефон",
        "reason_cooldown": "недавно писали",
        "reason_max_attempts": "исчерпаны попытки",
        "caption_funnel": (
            "Слева — клиенты на последний день ({date}): активных {active}, пора вернуться {due}, после исключений "
            "осталось {after}. Справа — сумма за период: отправлено сообщений {sent}, записались после них {converted} "
            "(включая сообщения, у которых окно ещё открыто)."
        ),
        "caption_funnel_empty": "Данных пока нет: ежедневный расчёт ещё не запускался за этот период.",
        "title_tone": "Записи по тону сообщения",
        "title_interval_level": "Записи по способу расчёта срока возврата",
        "title_variant": "Записи по варианту текста",
        "variant_label": "Вариант {value}",
        "conv_axis": "Записались за {days} {days_word}",
        "caption_conv": (
            "Больше всего разница в группе «{group}»: с сообщением записались {rate}, без него — {holdout_rate} "
            "({uplift}; 95 % интервал — от {low} до {high})."
        ),
        "caption_conv_small": "Группы с пометкой «мало данных» (меньше {min} клиентов) сравнивать пока рано.",
        "caption_conv_all_small": (
            "Во всех группах пока мало данных (меньше {min} клиентов с закрытым окном в одной из групп), поэтому "
            "сравнивать их рано — ориентируйтесь на общий итог вверху."
        ),
        "caption_conv_empty": "Данных пока нет: ни у одного сообщения ещё не закрылось {days}-дневное окно.",
        "ttb_title": "Через сколько дней после сообщения записываются",
        "ttb_axis_x": "Дней от сообщения до записи",
        "ttb_axis_y": "Клиентов",
        "ttb_median": "медиана: {value} {days_word}",
        "caption_ttb": (
            "Записались после сообщения: {count} (включая ещё открытые окна). Половина из них — за {median} "
            "{days_word} или быстрее, в первую неделю — {share_week}."
        ),
        "caption_ttb_empty": "Данных пока нет: после отправленных сообщений ещё никто не записался.",
        "revenue_title": "Выручка от записей по неделям отправки",
        "revenue_axis": "Выручка",
        "revenue_open": "окно ещё открыто",
        "revenue_closed": "окно закрыто",
        "per_message_short": "{value} на сообщ.",
        "week_axis": "Неделя отправки (с понедельника)",
        "caption_revenue": (
            "За период записи после сообщений принесли {revenue} выручки (только состоявшиеся визиты) — в среднем "
            "{per_message} на отправленное сообщение."
        ),
        "caption_revenue_open": "Заштрихованные недели ещё могут вырасти: их {days}-дневное окно не закрылось.",
        "caption_revenue_empty": "Данных пока нет: за этот период сообщения не отправлялись.",
        "no_revenue": "Выручки пока нет",
        "caption_no_revenue": "Выручки пока нет: после сообщений ещё не было состоявшихся визитов.",
        "caption_no_revenue_open": (
            "Выручки пока нет: {days}-дневное окно у отправленных сообщений ещё не закрылось, записи могут появиться."
        ),
        "pipeline_title": "Клиенты к возврату и отправки по дням",
        "pipeline_axis": "Клиентов / сообщений",
        "series_due_before": "Пора вернуться",
        "series_due_after": "После исключений",
        "series_queued": "Поставлено в очередь",
        "series_sent": "Отправлено",
        "caption_pipeline": (
            "На {date} пора вернуться: {due} {clients}, после исключений — {after}. За период отправлено "
            "сообщений: {sent}."
        ),
        "caption_pipeline_empty": "Данных пока нет: ежедневный расчёт ещё не запускался за этот период.",
        "pp_unit": "п.\u00a0п.",
    },
    "en": {
        "report_title": "Client win-back: results",
        "all_companies": "All salons",
        "period": "Period",
        "period_empty": "no data yet",
        "generated": "Generated",
        "hl_sent": "Messages sent",
        "hl_conversions": "Booked after a message",
        "hl_conversions_note": "of {matured} with a closed window",
        "hl_rate": "Booked with a message",
        "hl_holdout_rate": "Booked without one (control)",
        "hl_uplift": "Uplift",
        "hl_uplift_ci": "95% interval: {low} … {high}",
        "hl_revenue": "Revenue from bookings after messages",
        "hl_matured": (
            "Rates use {matured} of {sent} sent messages: the others' {days}-day window is still open. "
            "Control group: {holdout} {clients} with a closed window."
        ),
        "verdict_no_matured": (
            "Too early to tell: no message has reached the end of its {days}-day window, during which a booking counts."
        ),
        "verdict_no_holdout": "Nothing to compare with yet: no control-group client has a closed window.",
        "verdict_positive": (
            "The messages work: {uplift} more clients book with a message than without one "
            "(95% interval: {low} to {high})."
        ),
        "verdict_negative": (
            "The messages are not helping yet: {uplift} fewer clients book with a message than without one "
            "(95% interval: {low} to {high})."
        ),
        "verdict_unclear": (
            "We cannot say yet that the messages work better than no message: the difference of {uplift} may be "
            "chance (95% interval: {low} to {high}, which includes zero)."
        ),
        "verdict_positive_small": (
            "The messages seem to help: {uplift} more clients book with a message than without one "
            "(95% interval: {low} to {high})."
        ),
        "verdict_negative_small": (
            "The messages do not seem to help: {uplift} fewer clients book with a message than without one "
            "(95% interval: {low} to {high})."
        ),
        "verdict_small": "There is little data so far (under {min} clients in one group), so this may still change.",
        "companies_title": "By salon",
        "col_company": "Salon",
        "how_title": "How to read this report",
        "how_holdout": (
            "<b>Control group.</b> A small random share of the clients who are due back (usually 10%) gets no "
            "message. Comparing how often clients book with and without a message shows how many bookings the "
            "messages themselves brought, rather than the season or habit."
        ),
        "how_uplift": (
            "<b>Uplift</b> is the booking rate with a message minus the rate without one, in percentage points "
            "(pp): 18% vs 6% is +12 pp."
        ),
        "how_interval": (
            "<b>95% interval.</b> With few clients, part of a difference can be chance. The interval is the range in "
            "which the true uplift lies with 95% probability. Entirely above zero: the messages really help; "
            "includes zero: we cannot rule out that they make no difference. More messages make it narrower. "
            "Groups with fewer than {min} clients are marked “small sample”."
        ),
        "how_attribution": (
            "<b>What counts.</b> A booking counts for a message when the client books within {days} days after it; "
            "revenue counts attended visits only. Rates use only messages whose {days} days have passed."
        ),
        "how_bars": (
            "<b>Error bars</b> are 95% Wilson intervals of each rate; the uplift interval uses the normal "
            "approximation for a difference of two rates."
        ),
        "no_data": "No data yet",
        "small_sample": "small sample",
        "no_group_data": "no data",
        "n_label": "n = {treated} / {holdout}",
        "ci_short": "95%: {bounds}",
        "treated": "Got a message",
        "holdout": "Control: no message",
        "bars_note": (
            "Bars: 95% Wilson intervals. Above each group: uplift in pp and its 95% interval. "
            "n: clients with a message / in control."
        ),
        "funnel_title": "Client funnel: from active clients to bookings",
        "funnel_clients": "Clients on {date}",
        "funnel_messages": "Messages over the period",
        "step_active": "Active clients",
        "step_due": "Due to come back",
        "step_excluded": "Excluded (by reason)",
        "step_due_after": "Left after exclusions",
        "step_holdout": "Control: no message",
        "step_queued": "Queued",
        "step_sent": "Sent",
        "step_converted": "Booked after a message",
        "reason_future_booking": "already booked",
        "reason_opted_out": "opted out",
        "reason_client_deleted": "card deleted",
        "reason_invalid_phone": "invalid phone",
        "reason_cooldown": "messaged recently",
        "reason_max_attempts": "out of attempts",
        "caption_funnel": (
            "Left: clients on the latest day ({date}): {active} active, {due} due to come back, {after} left after "
            "exclusions. Right: totals over the period: {sent} messages sent, {converted} bookings after them "
            "(including messages whose window is still open)."
        ),
        "caption_funnel_empty": "No data yet: the daily run has not run in this period.",
        "title_tone": "Bookings by message tone",
        "title_interval_level": "Bookings by how the return date was estimated",
        "title_variant": "Bookings by text variant",
        "variant_label": "Variant {value}",
        "conv_axis": "Booked within {days} {days_word}",
        "caption_conv": (
            "The largest difference is in “{group}”: {rate} booked with a message, {holdout_rate} without one "
            "({uplift}; 95% interval: {low} to {high})."
        ),
        "caption_conv_small": "Groups marked “small sample” (under {min} clients) are too small to compare yet.",
        "caption_conv_all_small": (
            "Every group is still small (under {min} clients with a closed window in one of its groups), so it is "
            "too early to compare them — rely on the overall result at the top."
        ),
        "caption_conv_empty": "No data yet: no message's {days}-day window has closed.",
        "ttb_title": "How many days after the message clients book",
        "ttb_axis_x": "Days from message to booking",
        "ttb_axis_y": "Clients",
        "ttb_median": "median: {value} {days_word}",
        "caption_ttb": (
            "{count} clients booked after a message (open windows included). Half of them did so within "
            "{median} {days_word}, {share_week} within the first week."
        ),
        "caption_ttb_empty": "No data yet: nobody has booked after a sent message so far.",
        "revenue_title": "Revenue from bookings by week sent",
        "revenue_axis": "Revenue",
        "revenue_open": "window still open",
        "revenue_closed": "window closed",
        "per_message_short": "{value} per msg",
        "week_axis": "Week sent (starting Monday)",
        "caption_revenue": (
            "Over the period, bookings after messages brought {revenue} in revenue (attended visits only), "
            "{per_message} per message sent on average."
        ),
        "caption_revenue_open": "Hatched weeks may still grow: their {days}-day window is not closed yet.",
        "caption_revenue_empty": "No data yet: no messages were sent in this period.",
        "no_revenue": "No revenue yet",
        "caption_no_revenue": "No revenue yet: no attended visits have followed the messages so far.",
        "caption_no_revenue_open": (
            "No revenue yet: the {days}-day window of the messages sent is still open, so bookings may still come."
        ),
        "pipeline_title": "Clients due and messages sent per day",
        "pipeline_axis": "Clients / messages",
        "series_due_before": "Due to come back",
        "series_due_after": "After exclusions",
        "series_queued": "Queued",
        "series_sent": "Sent",
        "caption_pipeline": (
            "On {date}, {due} {clients} were due to come back, {after} after exclusions. Messages sent over the "
            "period: {sent}."
        ),
        "caption_pipeline_empty": "No data yet: the daily run has not run in this period.",
        "pp_unit": "pp",
    },
}


@dataclass(frozen=True)
class Lang:
    """Wording and number formats of one locale ('ru' or 'en')."""

    code: str

    def __call__(self, key: str, **values: object) -> str:
        return LABELS[self.code][key].format(**values)

    def num(self, value: float, digits: int = 0) -> str:
        """1 234 567,5 in Russian, 1,234,567.5 in English."""
        text = f"{value:,.{digits}f}"
        return text.replace(",", NBSP).replace(".", ",") if self.code == "ru" else text

    def pct(self, rate: float | None, digits: int = 1) -> str:
        """A share as a percentage: 15,3 % / 15.3%; a dash when there is nothing to divide."""
        if rate is None or math.isnan(rate):
            return "—"
        number = self.num(rate * 100, digits)
        return f"{number}{NBSP}%" if self.code == "ru" else f"{number}%"

    def num_signed(self, value: float, digits: int = 0) -> str:
        """A number with its sign: +6,8 / −2.0 (a true minus, and no sign on zero)."""
        magnitude = round(abs(value), digits)
        sign = "" if magnitude == 0 else "+" if value > 0 else MINUS
        return f"{sign}{self.num(magnitude, digits)}"

    def pp(self, diff: float, digits: int = 1) -> str:
        """A signed difference of two shares in percentage points: +12,0 п. п. / −3.5 pp."""
        return f"{self.num_signed(diff * 100, digits)}{NBSP}{self('pp_unit')}"

    def word(self, count: float, key: str) -> str:
        """The form of a noun after `count` (a fraction takes the Russian 'few' form: 2,5 дня)."""
        forms = PLURALS[self.code][key]
        if count != int(count):
            return forms[1]
        if self.code == "ru":
            return ru_plural(int(count), *forms)
        return forms[0] if count == 1 else forms[1]

    def date(self, day: date) -> str:
        return f"{day:%d.%m.%Y}" if self.code == "ru" else f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"

    def short_date(self, day: date) -> str:
        return f"{day:%d.%m}" if self.code == "ru" else f"{day.day} {MONTHS_EN[day.month - 1]}"

    def group(self, dimension: str, value: str) -> str:
        """Owner-facing name of a tone, interval level or variant."""
        if dimension == "variant":
            return self("variant_label", value=value.upper())
        return GROUP_LABELS[self.code][dimension].get(value, value)
