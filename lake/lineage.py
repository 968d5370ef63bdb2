"""Lineage from the landing zone to the gold marts, as JSON and as a picture.

The first half comes from the vault spec (what each file feeds: S3 prefix -> landing
table -> staging view -> hub, link and satellite -> current views), the second from dbt's
manifest (source -> bronze -> silver -> gold), joined where dbt's sources name vault
tables. ``lake lineage`` writes ``docs/lineage.json`` and ``docs/lineage.svg``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from procedures import spec, vault
from procedures.errors import UserError
from procedures.ingest import landing_table

LAYERS = ("s3", "landing", "staging", "vault", "vault_views", "business_vault", "bronze", "silver", "gold")


class LineageError(UserError, RuntimeError):
    """Lineage that cannot be drawn: a missing manifest or a dangling reference, named."""


@dataclass
class Graph:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)

    def node(self, node_id: str, layer: str, kind: str, label: str) -> str:
        self.nodes.setdefault(node_id, {"id": node_id, "layer": layer, "kind": kind, "label": label})
        return node_id

    def edge(self, source: str, target: str, via: str) -> None:
        self.edges.add((source, target, via))

    def upstream(self, node_id: str) -> set[str]:
        """Every node ``node_id`` is derived from."""
        found: set[str] = set()
        frontier = {node_id}
        while frontier:
            frontier = {s for s, t, _ in self.edges if t in frontier} - found
            found |= frontier
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "layers": list(LAYERS),
            "nodes": sorted(self.nodes.values(), key=lambda n: (LAYERS.index(n["layer"]), n["id"])),
            "edges": [{"from": s, "to": t, "via": v} for s, t, v in sorted(self.edges)],
        }


def vault_lineage(graph: Graph, landing_url: str, schemas: dict[str, str]) -> None:
    """S3 to the vault's views, from the entity and vault specs."""

    def table(layer: str, name: str, kind: str = "table", graph_layer: str | None = None) -> str:
        qualified = f"{schemas[layer]}.{name.upper()}"
        return graph.node(qualified, graph_layer or layer, kind, qualified)

    # LOAD_VAULT records every batch it commits; the snapshot control table (dbt) reads them
    batches = table("vault", "LOADED_BATCHES")
    for entity in spec.ENTITIES:
        prefix = f"{landing_url}{entity.producer}/{entity.name}/"
        s3 = graph.node(prefix, "s3", "s3_prefix", prefix)
        landed = table("landing", landing_table(entity))
        staged = table("landing", f"STG_{entity.name}", "view", "staging")
        graph.edge(s3, landed, "INGEST_LANDING (COPY INTO)")
        graph.edge(landed, staged, "view")
        graph.edge(staged, batches, "LOAD_VAULT")
        if entity.multi_active:
            continue  # a set's rows go to its multi-active satellite (below)
        graph.edge(staged, table("vault", vault.Hub(entity).name), "LOAD_VAULT")
        for sat in (s for s in vault.SATELLITES if s.entity == entity):
            graph.edge(staged, table("vault", sat.name), "LOAD_VAULT")
            graph.edge(table("vault", sat.name), table("vault", f"{sat.name}_current", "view", "vault_views"), "view")
    for link in vault.LINKS:
        graph.edge(
            table("landing", f"STG_{link.child.name}", "view", "staging"), table("vault", link.name), "LOAD_VAULT"
        )
    structures = [(e.link.child, e.name) for e in vault.EFFECTIVITY_SATELLITES]
    structures += [(s.entity, s.name) for s in vault.STATUS_SATELLITES]
    structures += [(m.entity, m.name) for m in vault.MULTI_ACTIVE_SATELLITES]
    for entity, name in structures:
        staged = table("landing", f"STG_{entity.name}", "view", "staging")
        graph.edge(staged, table("vault", name), "LOAD_VAULT")
        graph.edge(table("vault", name), table("vault", f"{name}_current", "view", "vault_views"), "view")
    for sts in vault.STATUS_SATELLITES:
        # a snapshot entity's current view says which keys the latest complete snapshot lacked
        graph.edge(
            table("vault", f"{sts.name}_current", "view", "vault_views"),
            table("vault", f"sat_{sts.entity.singular}_current", "view", "vault_views"),
            "view",
        )
    for multi in vault.MULTI_ACTIVE_SATELLITES:
        graph.edge(
            table("landing", f"STG_{multi.entity.name}", "view", "staging"),
            table("vault", multi.hub.name),
            "LOAD_VAULT",
        )


def dbt_lineage(graph: Graph, manifest: dict[str, Any], schemas: dict[str, str]) -> None:
    """dbt's sources and models, from its manifest; sources are vault tables."""
    ids: dict[str, str] = {}
    for unique_id, source in manifest.get("sources", {}).items():
        name = f"{schemas['vault']}.{str(source.get('identifier') or source['name']).upper()}"
        if name not in graph.nodes:
            raise LineageError(f"dbt source {unique_id} names {name}, which the vault spec does not create")
        ids[unique_id] = name
    for unique_id, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") == "seed":
            # reference data (dbt/seeds/reference): tables in the vault's schema, from the spec
            name = f"{schemas['vault']}.{node['name'].upper()}"
            ids[unique_id] = graph.node(name, "business_vault", "seed", name)
            continue
        if node.get("resource_type") != "model":
            continue
        layer = node.get("fqn", ["", ""])[1]
        if layer not in LAYERS:
            raise LineageError(f"dbt model {unique_id} is in folder {layer!r}, not a layer ({', '.join(LAYERS)})")
        # the business vault's tables sit in the vault's schema
        name = f"{schemas['vault' if layer == 'business_vault' else layer]}.{node['name'].upper()}"
        ids[unique_id] = graph.node(name, layer, node.get("config", {}).get("materialized", "model"), name)
    for unique_id, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") != "model":
            continue
        for parent in node.get("depends_on", {}).get("nodes", []):
            if parent in ids:
                graph.edge(ids[parent], ids[unique_id], "dbt")


def build(landing_url: str, schemas: dict[str, str], manifest_path: Path) -> Graph:
    if not manifest_path.exists():
        from lake.output import lake_command

        lake = lake_command()
        raise LineageError(f"no dbt manifest at {manifest_path}: run `{lake} run` (or `{lake} dbt parse`) first")
    graph = Graph()
    vault_lineage(graph, landing_url, schemas)
    dbt_lineage(graph, json.loads(manifest_path.read_text()), schemas)
    return graph


# --------------------------------------------------------------------------- the picture

COLUMN_WIDTH, ROW_HEIGHT, BOX_WIDTH, BOX_HEIGHT, MARGIN = 250, 30, 215, 22, 40
COLOURS = {
    "s3": "#f4d35e",
    "landing": "#ee964b",
    "staging": "#f9c784",
    "vault": "#8ecae6",
    "vault_views": "#bde0fe",
    "business_vault": "#a2d2ff",
    "bronze": "#cd7f32",
    "silver": "#c0c0c0",
    "gold": "#ffd700",
}


def svg(graph: Graph) -> str:
    """Layers left to right, nodes top to bottom in each, edges as curves."""
    columns: dict[str, list[dict[str, str]]] = {layer: [] for layer in LAYERS}
    for node in graph.as_json()["nodes"]:
        columns[node["layer"]].append(node)
    place: dict[str, tuple[int, int]] = {}
    for x, layer in enumerate(LAYERS):
        for y, node in enumerate(columns[layer]):
            place[node["id"]] = (MARGIN + x * COLUMN_WIDTH, MARGIN + 30 + y * ROW_HEIGHT)
    height = MARGIN * 2 + 30 + max(len(c) for c in columns.values()) * ROW_HEIGHT
    width = MARGIN * 2 + len(LAYERS) * COLUMN_WIDTH
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for x, layer in enumerate(LAYERS):
        out.append(
            f'<text x="{MARGIN + x * COLUMN_WIDTH}" y="{MARGIN}" font-size="14" font-weight="bold">'
            f"{escape(layer.replace('_', ' '))}</text>"
        )
    for source, target, via in sorted(graph.edges):
        (left, top), (right, bottom) = place[source], place[target]
        x1, y1, x2, y2 = left + BOX_WIDTH, top + BOX_HEIGHT / 2, right, bottom + BOX_HEIGHT / 2
        bend = (x2 - x1) / 2
        out.append(
            f'<path class="edge" d="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}" '
            f'fill="none" stroke="#888" stroke-opacity="0.6"><title>{escape(via)}</title></path>'
        )
    for node_id, (x, y) in place.items():
        node = graph.nodes[node_id]
        label = node["label"].rsplit(".", 1)[-1] if node["layer"] != "s3" else node["label"].split("/", 3)[-1]
        out.append(
            f'<g class="node"><rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="4" '
            f'fill="{COLOURS[node["layer"]]}" stroke="#444"/><text x="{x + 6}" y="{y + 15}">{escape(label)}</text>'
            f"<title>{escape(node_id)} ({escape(node['kind'])})</title></g>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(graph: Graph, json_path: Path, svg_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(graph.as_json(), indent=2) + "\n")
    svg_path.write_text(svg(graph))


def gaps(graph: Graph, targets: Iterable[str]) -> list[str]:
    """Targets (marts) whose lineage does not reach the landing zone."""
    return [t for t in targets if not any(graph.nodes[u]["layer"] == "s3" for u in graph.upstream(t))]
