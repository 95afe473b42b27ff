"""The two seeds measured side by side: the example's and a larger one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_dbsnap.config import Settings, resolve
from pytest_dbsnap.seed import SeedPlan, expand_seed

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent


@dataclass(frozen=True)
class SeedSpec:
    """One seed: where its files are, which of them only fill tables, how tests dirty it."""

    key: str
    title: str
    root: Path
    schema: tuple[str, ...]  # globs that create the schema, relative to root
    data: tuple[str, ...]  # globs that fill it (a reset script re-runs these)
    dbname: str
    project: str
    #: A test's writes: a few thousand rows deleted, some updated, one inserted.
    dirty: tuple[str, ...]

    @property
    def seed(self) -> tuple[str, ...]:
        return self.schema + self.data

    def settings(self, image: str, pool_size: int) -> Settings:
        values: dict[str, str | list[str]] = {
            "seed": list(self.seed),
            "dbname": self.dbname,
            "project": self.project,
            "image": image,
            "pool_size": str(pool_size),
            "startup_timeout": "120",
        }
        return resolve(self.root, lambda _: None, lambda s: values.get(s.name), {})

    def plan(self) -> SeedPlan:
        return SeedPlan(steps=expand_seed(self.seed, self.root), rootdir=self.root)

    def data_files(self) -> list[Path]:
        return [f.path for f in expand_seed(self.data, self.root)]

    def display(self) -> str:
        return self.root.relative_to(REPO).as_posix()


SHOP = SeedSpec(
    key="shop",
    title="example seed",
    root=REPO / "examples" / "shop",
    schema=("db/schema.sql",),
    data=("db/seed/*.sql",),
    dbname="shop",
    project="bench-shop",
    dirty=(
        "DELETE FROM order_items WHERE order_id <= 2000",
        "UPDATE products SET stock = stock + 1 WHERE id <= 500",
        "UPDATE customers SET name = name || ' (edited)' WHERE id <= 2000",
        "INSERT INTO categories (name) VALUES ('Benchmark category')",
    ),
)

LARGE = SeedSpec(
    key="large",
    title="larger seed",
    root=BENCH / "seeds" / "large",
    schema=("00_schema.sql",),
    data=("0[1-9]_*.sql", "99_*.sql"),
    dbname="tracker",
    project="bench-large",
    dirty=(
        "DELETE FROM comments WHERE id <= 3000",
        "UPDATE tasks SET status = 'done' WHERE id <= 2000",
        "UPDATE users SET active = NOT active WHERE id <= 1000",
        "INSERT INTO labels (name) VALUES ('benchmark label')",
    ),
)

SEEDS: dict[str, SeedSpec] = {s.key: s for s in (SHOP, LARGE)}
