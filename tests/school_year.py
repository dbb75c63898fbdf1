"""The dates a school year turns on, for tests that must hold whatever day it is.

The simulator's calendar (``simulator.builder.TERMS``): Spring 11 Jan to 14 May, Summer 1 Jun
to 7 Aug, Fall 20 Aug to 18 Dec (each ends at 05:59:59Z the next morning); a course with grading
periods splits its term at the middle day, and Quarter 1 closes a week later. Each moment is
mid-afternoon UTC, morning in the Americas, so "that day" is the same day everywhere a student
of the simulator lives.

``tests/test_school_year.py`` runs the date-sensitive tests with the clock at each of
``SCHOOL_YEAR``; ``MIDTERM`` is the moment a test pins when it needs a term in progress with
graded work and one closed grading period.
"""

from __future__ import annotations

from datetime import UTC, datetime

SCHOOL_YEAR: dict[str, datetime] = {
    "term's first day": datetime(2027, 8, 20, 15, tzinfo=UTC),
    # Fall 2027 splits on 19 Oct; Quarter 1 closes 26 Oct at 05:59:59Z.
    "the day a grading period closes": datetime(2027, 10, 26, 15, tzinfo=UTC),
    "the day after a term ends": datetime(2027, 12, 19, 15, tzinfo=UTC),
    "a holiday gap between terms": datetime(2027, 12, 30, 15, tzinfo=UTC),
    "29 Feb 2028": datetime(2028, 2, 29, 15, tzinfo=UTC),
}

MIDTERM = datetime(2026, 11, 18, 15, tzinfo=UTC)
