"""Glue crawler configuration over the landing zone, one crawler per producer entity.

The targets come from the entity spec (procedures/spec.py), so a new entity gets its
crawler with no edit here. Each crawler names its table ``<producer>_<entity>`` (the
folder name with the producer as prefix) and finds the ``load_date=`` partitions, the
same tables and partitions ``lake catalog sync`` registers through the API; the two
agree, so production may use either or both.

https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from procedures import landing, spec

# the producers' control files are not data (patterns are relative to the entity folder)
EXCLUSIONS = (f"**/{landing.CONTROL_FILE}",)

# partitions inherit the table's schema (every landing column is text); compatible
# schemas of one folder make one table, not one per file
CONFIGURATION = json.dumps(
    {
        "Version": 1.0,
        "CrawlerOutput": {
            "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
            "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
        },
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
    },
    sort_keys=True,
)
# a column a producer drops is kept in the catalog and a deleted folder is only flagged:
# the landing zone is append-only and its history is evidence
SCHEMA_CHANGE_POLICY = {"update_behavior": "UPDATE_IN_DATABASE", "delete_behavior": "DEPRECATE_IN_DATABASE"}
# only folders added since the last crawl: a day's batch, not the whole history
RECRAWL_POLICY = {"recrawl_behavior": "CRAWL_NEW_FOLDERS_ONLY"}


@dataclass(frozen=True)
class Target:
    producer: str
    entity: str
    description: str

    @property
    def table_prefix(self) -> str:
        """What the crawler puts before the folder's name: the producer's tables are
        ``<producer>_<entity>``, as ``lake catalog sync`` names them."""
        return f"{self.producer}_"

    @property
    def table(self) -> str:
        return self.table_prefix + self.entity

    def path(self, landing_url: str) -> str:
        return f"{landing_url}{self.producer}/{self.entity}/"


def targets() -> list[Target]:
    return [Target(e.producer, e.name, f"{e.producer} {e.name}: {e.description}".strip()[:2048]) for e in spec.ENTITIES]
