"""Lineage from the landing zone through the vault to gold, from the specs and dbt's manifest."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lake import dbt, lineage
from lake.cli import app
from lake.config import Settings


def manifest(settings: Settings) -> Path:
    return dbt.state_dir(settings) / "target" / "manifest.json"


@pytest.mark.integration
def test_every_gold_mart_traces_back_to_the_files_it_is_built_from(settings: Settings, built: dict[str, Any]) -> None:
    graph = lineage.build(settings.landing_url, settings.names.schemas, manifest(settings))
    gold = {n: node for n, node in graph.nodes.items() if node["layer"] == "gold"}
    assert len(gold) == 5 and lineage.gaps(graph, gold) == []

    def producers_of(mart: str) -> set[str]:
        return {
            u.removeprefix(settings.landing_url)
            for u in graph.upstream(f"GOLD.{mart.upper()}")
            if u.startswith("s3://")
        }

    assert producers_of("gold_transaction_summary") >= {"finance/transactions/", "finance/accounts/"}
    assert producers_of("gold_cross_domain_analytics") >= {
        "crm/customers/",
        "crm/interactions/",
        "crm/opportunities/",
        "finance/transactions/",
    }
    # the path runs through every layer: S3, landing, staging, the vault, bronze, silver
    layers = {graph.nodes[u]["layer"] for u in graph.upstream("GOLD.GOLD_CUSTOMER_SUMMARY")}
    assert layers == set(lineage.LAYERS) - {"gold"}
    via = {v for s, t, v in graph.edges if t == "VAULT.HUB_CUSTOMER"}
    assert via == {"LOAD_VAULT"}


@pytest.mark.integration
def test_lake_lineage_writes_json_and_a_picture(settings: Settings, built: dict[str, Any], tmp_path: Path) -> None:
    env = {"LAKE_STATE_DIR": str(settings.local.state_dir), "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["lineage", "--out", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    assert "5 of 5 gold marts trace back to the landing zone" in result.output
    data = json.loads((tmp_path / "lineage.json").read_text())
    ids = {n["id"] for n in data["nodes"]}
    assert all(e["from"] in ids and e["to"] in ids for e in data["edges"])
    svg = ET.parse(tmp_path / "lineage.svg").getroot()
    groups = svg.findall("{http://www.w3.org/2000/svg}g")
    assert len(groups) == len(ids)
    assert len(svg.findall("{http://www.w3.org/2000/svg}path")) == len(data["edges"])


@pytest.mark.unit
def test_lineage_without_a_manifest_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(lineage.LineageError, match=r"no dbt manifest at .*: run `(\S*/)?lake run`"):
        lineage.build("s3://b/landing/", Settings().names.schemas, tmp_path / "manifest.json")


@pytest.mark.unit
def test_a_dbt_source_the_vault_does_not_create_is_named() -> None:
    graph = lineage.Graph()
    schemas = Settings().names.schemas
    lineage.vault_lineage(graph, "s3://b/landing/", schemas)
    bogus = {"sources": {"source.lake.vault.HUB_NOTHING": {"name": "HUB_NOTHING", "identifier": "HUB_NOTHING"}}}
    with pytest.raises(lineage.LineageError, match=r"source\.lake\.vault\.HUB_NOTHING names VAULT\.HUB_NOTHING"):
        lineage.dbt_lineage(graph, bogus, schemas)
