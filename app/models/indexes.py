"""The ten Canvas lookup indexes of the original design, defined once.

``add_canvas_indexes.py`` (for databases that already exist), the ``0002_canvas_indexes``
migration (for new ones) and the tests all read :data:`CANVAS_INDEXES`. The names and columns are
a contract with operators: outside checks look for exactly these indexes.

The indexes are also attached to the model metadata (:func:`attach_canvas_indexes`), so that
``db.create_all()`` builds them too and Alembic's autogenerate sees the migrated schema and the
models as equal.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Index, MetaData


class CanvasIndex(NamedTuple):
    """One index: its name, its table and its columns in order."""

    name: str
    table: str
    columns: tuple[str, ...]


CANVAS_INDEXES: tuple[CanvasIndex, ...] = (
    # Canvas id lookups.
    CanvasIndex("idx_assignment_canvas_id", "assignment", ("canvas_assignment_id",)),
    CanvasIndex("idx_assignment_canvas_course_id", "assignment", ("canvas_course_id",)),
    CanvasIndex("idx_course_canvas_id", "course", ("canvas_course_id",)),
    CanvasIndex("idx_term_user_id", "term", ("user_id",)),
    # Composite lookups.
    CanvasIndex(
        "idx_assignment_canvas_lookup", "assignment", ("canvas_assignment_id", "course_id")
    ),
    CanvasIndex("idx_assignment_course_id", "assignment", ("course_id",)),
    CanvasIndex("idx_course_canvas_lookup", "course", ("canvas_course_id", "term_id")),
    CanvasIndex("idx_grade_category_name_lookup", "grade_category", ("course_id", "name")),
    # Incremental sync: "what was synced before / after this time".
    CanvasIndex("idx_assignment_last_synced", "assignment", ("last_synced_canvas",)),
    CanvasIndex("idx_course_last_synced", "course", ("last_synced_canvas",)),
)

CANVAS_INDEX_NAMES: frozenset[str] = frozenset(index.name for index in CANVAS_INDEXES)


def attach_canvas_indexes(metadata: MetaData) -> None:
    """Add the ten indexes to ``metadata``'s tables; calling it again adds nothing.

    Raises:
        KeyError: a table or column of the contract is missing from the models.
    """
    for spec in CANVAS_INDEXES:
        table = metadata.tables[spec.table]
        if any(index.name == spec.name for index in table.indexes):
            continue
        # Index(...) given bound columns attaches itself to their table.
        Index(spec.name, *(table.c[column] for column in spec.columns))
