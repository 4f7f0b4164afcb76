"""Report wording in Russian and English, with numbers and dates written the way each audience reads them.

The words live in `locales/<code>.yml` (one file per language, the same keys and placeholders in each); the number,
date and plural rules live here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from importlib import resources

import yaml

from reactivation.messages.render import ru_plural

NBSP = "\u00a0"
MINUS = "\u2212"
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

LOCALES_DIR = resources.files("reactivation.report") / "locales"


def _load_locales() -> dict[str, dict]:
    """Every `locales/<code>.yml`, read once at import: {code: {"plurals", "groups", "labels"}}."""
    return {
        entry.name.removesuffix(".yml"): yaml.safe_load(entry.read_text(encoding="utf-8"))
        for entry in sorted(LOCALES_DIR.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yml")
    }


LOCALES = _load_locales()
# Noun forms by count (Russian one / few / many, English one / other), group names and the page's wording.
PLURALS: dict[str, dict[str, tuple[str, ...]]] = {
    code: {key: tuple(forms) for key, forms in locale["plurals"].items()} for code, locale in LOCALES.items()
}
GROUP_LABELS: dict[str, dict[str, dict[str, str]]] = {code: locale["groups"] for code, locale in LOCALES.items()}
LABELS: dict[str, dict[str, str]] = {code: locale["labels"] for code, locale in LOCALES.items()}


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
        """Owner-facing name of a campaign, tone, interval level or variant."""
        if dimension == "variant":
            return self("variant_label", value=value.upper())
        return GROUP_LABELS[self.code][dimension].get(value, value)
