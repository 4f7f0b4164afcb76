"""The report's wording lives in one YAML file per language; every language has every key and every placeholder."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import yaml

from reactivation.report import i18n

REPORT_DIR = Path(i18n.__file__).parent
LOCALE_FILES = sorted((REPORT_DIR / "locales").glob("*.yml"))


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """{"groups.tone.gentle": "...", "plurals.client": [...], ...}: every leaf under a dotted key."""
    leaves: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            leaves.update(flatten(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_the_report_speaks_russian_and_english_from_locale_files() -> None:
    assert [path.stem for path in LOCALE_FILES] == ["en", "ru"]
    assert sorted(i18n.LABELS) == sorted(i18n.GROUP_LABELS) == sorted(i18n.PLURALS) == ["en", "ru"]
    for path in LOCALE_FILES:
        locale = read(path)
        assert i18n.LABELS[path.stem] == locale["labels"]
        assert i18n.GROUP_LABELS[path.stem] == locale["groups"]


@pytest.mark.parametrize("path", LOCALE_FILES[1:], ids=lambda p: p.stem)
def test_every_language_has_every_key_of_the_first(path: Path) -> None:
    first, other = flatten(read(LOCALE_FILES[0])), flatten(read(path))
    assert sorted(set(first) - set(other)) == [], f"missing in {path.name}"
    assert sorted(set(other) - set(first)) == [], f"missing in {LOCALE_FILES[0].name}"


@pytest.mark.parametrize("path", LOCALE_FILES[1:], ids=lambda p: p.stem)
def test_every_text_has_the_same_placeholders_in_every_language(path: Path) -> None:
    first, other = flatten(read(LOCALE_FILES[0])), flatten(read(path))
    differing = {
        key: (placeholders(text), placeholders(other[key]))
        for key, text in first.items()
        if isinstance(text, str) and key in other and placeholders(text) != placeholders(other[key])
    }
    assert differing == {}


def test_every_text_is_a_non_empty_string_that_formats() -> None:
    for path in LOCALE_FILES:
        for key, text in flatten(read(path)).items():
            for piece in text if isinstance(text, list) else [text]:
                assert isinstance(piece, str) and piece.strip(), f"{path.name}: {key}"
                piece.format(**{name: "x" for name in placeholders(piece)})  # no stray brace


def test_plural_forms_follow_each_languages_grammar() -> None:
    # Russian: one / few / many (1 клиент, 2 клиента, 5 клиентов); English: one / other
    assert {len(forms) for forms in i18n.PLURALS["ru"].values()} == {3}
    assert {len(forms) for forms in i18n.PLURALS["en"].values()} == {2}
    assert [i18n.Lang("ru").word(n, "client") for n in (1, 2, 5, 21)] == ["клиент", "клиента", "клиентов", "клиент"]
    assert [i18n.Lang("en").word(n, "client") for n in (1, 2)] == ["client", "clients"]


def test_every_key_the_report_code_names_exists_in_the_locale_files() -> None:
    sources = [*REPORT_DIR.glob("*.py"), *(REPORT_DIR / "templates").iterdir()]
    named = {
        key
        for source in sources
        for key in re.findall(r"""\b(?:lang|t|self)\(\s*["']([a-z_]+)["']""", source.read_text(encoding="utf-8"))
    }
    assert len(named) > 30
    for code, labels in i18n.LABELS.items():
        assert sorted(named - set(labels)) == [], code
