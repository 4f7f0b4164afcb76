"""The dbt layers point one way: staging ← intermediate ← marts, read from dbt's own parsed graph.

A model reads models of its own layer or the layer right below (seeds count as staging: reference tables the
project loads itself); only staging reads raw sources. So nothing below a mart reads a mart, and a mart never
skips intermediate to read staging or a raw table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reactivation import dbt

from .conftest import drop, make_settings

LAYERS = ["staging", "intermediate", "marts"]


@pytest.fixture(scope="module")
def manifest() -> Iterator[object]:
    """dbt's parsed project, parsed as the runner parses it for every test on DuckDB: this process's partial-parse
    state (a fresh parse of the whole project costs 5 to 10 s)."""
    settings = make_settings("duckdb")
    try:
        yield dbt.run_dbt(["parse"], settings).raw
    finally:
        drop(settings)


def layer_of(node: object) -> str:
    """The layer a node lives in: its folder under models/ (seeds are staging-level reference tables)."""
    if node.resource_type == "seed":
        return "staging"
    parts = Path(node.original_file_path).parts
    assert parts[0] == "models" and parts[1] in LAYERS, f"{node.unique_id} is outside models/<layer>/"
    return parts[1]


def models(manifest: object) -> list[object]:
    return [node for node in manifest.nodes.values() if node.resource_type == "model"]


def test_every_model_reads_only_its_own_layer_or_the_one_below(manifest) -> None:
    wrong = []
    for node in models(manifest):
        level = LAYERS.index(layer_of(node))
        for parent_id in node.depends_on.nodes:
            if parent_id.startswith("source."):
                continue  # the next test
            parent = manifest.nodes[parent_id]
            if LAYERS.index(layer_of(parent)) not in (level, level - 1):
                wrong.append(f"{layer_of(node)} {node.name} reads {layer_of(parent)} {parent.name}")
    assert len(models(manifest)) > 30
    assert wrong == []


def test_only_staging_models_read_raw_sources(manifest) -> None:
    wrong = [
        f"{layer_of(node)} {node.name} reads {parent_id}"
        for node in models(manifest)
        for parent_id in node.depends_on.nodes
        if parent_id.startswith("source.") and layer_of(node) != "staging"
    ]
    readers = [node.name for node in models(manifest) if any(p.startswith("source.") for p in node.depends_on.nodes)]
    assert readers, "no model reads a source: the graph was not parsed"
    assert wrong == []


def test_nothing_below_a_mart_reads_a_mart(manifest) -> None:
    wrong = [
        f"{node.name} reads {parent_id}"
        for node in models(manifest)
        if layer_of(node) != "marts"
        for parent_id in node.depends_on.nodes
        if parent_id.startswith("model.") and layer_of(manifest.nodes[parent_id]) == "marts"
    ]
    assert wrong == []
