"""A no-change gradebook costs no parse: a digest of the raw response bytes, kept on the course.

The worker that fetches a course's gradebook hashes the raw bodies of its pages
(:func:`response_digest`). When the digest equals the one stored with the course's last written
gradebook (``course.response_digest``), the bytes are the same bytes the stored rows were
parsed from, so parsing them again would give the same rows: the worker returns them
:class:`Unparsed`, and the writer (:func:`prepare`) reuses the stored rows' hash
(``course.gradebook_hash``) and the stored grade check, without decoding, parsing, comparing or
doing any grade maths. Only when everything else the write depends on is also unchanged:

- an incremental sync (a full sync rewrites, as always);
- the course's grading periods (mixed into ``content_hash`` by ``course_digest``) and the
  facts the grade check reads (``gradecheck.CHECK_INPUTS``) are the stored ones;
- no difference between our grade and Canvas's is pending (``difference_status`` NULL):
  settling a difference needs the newest grade time, which only the parsed rows give.

Anything else, and any single byte that differs, takes the normal path: parse, hash, check,
upsert what differs. Other bytes that parse to the same rows (a field Canvas varies that the
sync never reads) write nothing: the stored digest is kept, so no-change syncs still write no
row, and those bytes are simply parsed each time. ``PARSER_VERSION`` is mixed into the
digest, so a new parser re-reads every gradebook once. The digest is SHA-256 over each
page's length and bytes: pages concatenated differently never collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.grades.check import check_course, differs, stored_check
from app.sync.parse import PARSER_VERSION, CourseData, Gradebook
from app.sync.periods import course_digest

EMPTY = Gradebook(groups=[], assignments=[])


def response_digest(pages: Sequence[bytes]) -> str:
    """SHA-256 over the parser version and every page's length and raw bytes, in order."""
    digest = hashlib.sha256(f"gradebook-bytes:v{PARSER_VERSION}:".encode())
    for body in pages:
        digest.update(len(body).to_bytes(8, "big"))
        digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True)
class Unparsed:
    """A gradebook whose bytes equal the stored ones, not parsed (``parse()`` if needed)."""

    response_digest: str
    parse: Callable[[], Gradebook]


@dataclass(frozen=True)
class Prepared:
    """What the writer needs for one course: its row (grade check and digests in it), the
    parsed gradebook (``EMPTY`` when unchanged bytes skipped it), its content hash, and
    whether the stored gradebook can stay as it is."""

    course: CourseData
    gradebook: Gradebook
    content_hash: str
    same: bool


def prepare(got: Gradebook | Unparsed, stored: Mapping[str, Any] | None, course: CourseData,
            incremental: bool) -> Prepared:
    """The course's write, without a parse when unchanged bytes allow it (module docstring)."""
    digest_of_bytes: str | None
    if isinstance(got, Unparsed):
        kept = unchanged(stored, course, got.response_digest) if incremental else None
        if kept is not None and stored is not None:
            row = {**course.row, **kept, "response_digest": got.response_digest,
                   "gradebook_hash": stored["gradebook_hash"]}
            return Prepared(replace(course, row=row), EMPTY, kept["content_hash"], True)
        gradebook, digest_of_bytes = got.parse(), got.response_digest
    else:
        gradebook, digest_of_bytes = got, got.response_digest
    digest = course_digest(gradebook.content_hash, course)  # grading periods included
    checked = check_course(stored, course.row, digest, course.periods, gradebook.groups,
                           gradebook.assignments)  # + whether Canvas is still catching up
    row = {**course.row, **checked, "response_digest": digest_of_bytes,
           "gradebook_hash": gradebook.content_hash}
    same = incremental and stored is not None and stored["content_hash"] == digest
    if same and stored is not None and stored.get("response_digest"):
        # Other bytes, the same rows (a field Canvas varies that the sync never reads): the
        # course row is not rewritten just for a new digest; these bytes are parsed again.
        row.update(response_digest=stored["response_digest"],
                   gradebook_hash=stored["gradebook_hash"])
    return Prepared(replace(course, row=row), gradebook, digest, same)


def unchanged(stored: Mapping[str, Any] | None, course: CourseData,
              digest_of_bytes: str) -> dict[str, Any] | None:
    """The stored course's content hash and grade check columns when the same bytes and the
    same course facts make a parse pointless; None when anything could differ."""
    if stored is None or not stored.get("gradebook_hash") \
            or stored.get("response_digest") != digest_of_bytes:
        return None
    if stored.get("difference_status") is not None or stored.get("differs_since") is not None:
        return None
    content_hash = course_digest(stored["gradebook_hash"], course)
    values = stored_check(stored, course.row, content_hash)  # None: periods or facts moved
    if values is None or differs(course.row, values):
        return None
    return {**values, "differs_since": None, "difference_status": None,
            "content_hash": content_hash}
