"""The API's OpenAPI 3.1 document, served at ``/api/v1/openapi.json``.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect): the tests validate the document and
check every response of every route against the schema it names here.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _t(kind: str, nullable: bool = False) -> Schema:
    return {"type": [kind, "null"]} if nullable else {"type": kind}


def _obj(props: dict[str, Schema]) -> Schema:
    return {"type": "object", "additionalProperties": False,
            "required": sorted(props), "properties": props}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(key: str, item: str) -> Schema:
    return _obj({key: {"type": "array", "items": _ref(item)}})


STAMP = {"type": ["string", "null"], "format": "date-time"}
NUM, NUM_N = _t("number"), _t("number", True)
INT, INT_N = _t("integer"), _t("integer", True)
STR, STR_N = _t("string"), _t("string", True)
BOOL = _t("boolean")

SCHEMAS: dict[str, Schema] = {
    "Error": _obj({"error": STR, "message": STR, "status": INT}),
    "Course": _obj({
        "id": INT, "canvas_url": STR_N, "canvas_course_id": INT, "name": STR,
        "course_code": STR_N, "term": STR_N, "concluded": BOOL,
        "canvas_current_score": NUM_N, "canvas_final_score": NUM_N,
        "canvas_current_grade": STR_N, "our_current_score": NUM_N,
        "apply_group_weights": BOOL, "last_synced": STAMP}),
    "Assignment": _obj({
        "id": INT, "course_id": INT, "canvas_course_id": INT, "canvas_assignment_id": INT,
        "group": STR_N, "group_weight": NUM_N, "name": STR, "due_at": STAMP,
        "points_possible": NUM_N, "score": NUM_N, "grade": STR_N, "entered_score": NUM_N,
        "points_deducted": NUM_N, "excused": BOOL, "missing": BOOL, "late": BOOL,
        "submitted_at": STAMP, "graded_at": STAMP}),
    "Grade": _obj({
        "course_id": INT, "name": STR, "course_code": STR_N, "canvas_score": NUM_N,
        "our_score": NUM_N, "letter": STR_N, "scope": STR_N, "differs": BOOL,
        "explanation": STR_N, "settling": BOOL, "hidden": BOOL, "concluded": BOOL,
        "last_synced": STAMP}),
    "Change": _obj({
        "id": INT, "at": {"type": "string", "format": "date-time"}, "course_id": INT_N,
        "canvas_course_id": INT, "canvas_assignment_id": INT_N, "kind": STR,
        "before": {"description": "The values before (JSON), or null."},
        "after": {"description": "The values after (JSON), or null."}}),
    "TermGpa": _obj({"term": STR, "gpa": NUM_N, "credits": NUM, "projected": BOOL}),
    "GpaCourse": _obj({
        "course_id": INT, "term": STR, "credits": NUM, "letter": STR_N, "points": NUM_N,
        "from_percent": BOOL, "projected": BOOL, "counted": BOOL, "reason": STR_N}),
    "Gpa": _obj({
        "scale": STR, "scale_label": STR, "cumulative": NUM_N, "cumulative_credits": NUM,
        "cumulative_projected": BOOL,
        "terms": {"type": "array", "items": _ref("TermGpa")},
        "courses": {"type": "array", "items": _ref("GpaCourse")}}),
    "PlannerItem": _obj({
        "assignment_id": INT, "canvas_assignment_id": INT, "course_id": INT,
        "course_name": STR, "name": STR, "due_at": {"type": "string", "format": "date-time"},
        "local_day": {"type": "string", "format": "date"},
        "worth": {**NUM_N, "description": "Percent of the course grade it is worth."},
        "status": STR,
        "late": BOOL, "missing": BOOL, "done": BOOL, "url": STR_N}),
    "Planner": _obj({
        "now": {"type": "string", "format": "date-time"}, "window_days": INT,
        "upcoming": {"type": "array", "items": _ref("PlannerItem")},
        "overdue": {"type": "array", "items": _ref("PlannerItem")}}),
    "CourseList": _list_of("courses", "Course"),
    "OneCourse": _obj({"course": _ref("Course")}),
    "AssignmentList": _list_of("assignments", "Assignment"),
    "OneAssignment": _obj({"assignment": _ref("Assignment")}),
    "GradeList": _list_of("grades", "Grade"),
    "ChangePage": _obj({"changes": {"type": "array", "items": _ref("Change")},
                        "next_after": INT_N}),
}


def _error(description: str) -> Schema:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


ERRORS: dict[str, Schema] = {
    "401": _error("No token, or one that is unknown or revoked."),
    "404": _error("No such object among the token owner's data."),
    "429": {**_error("Too many requests for this token; wait Retry-After seconds."),
            "headers": {"Retry-After": {"schema": INT,
                                        "description": "Seconds until the next window."}}},
}


def _id_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": INT}


def _get(summary: str, schema: str, params: list[Schema] | None = None,
         errors: tuple[str, ...] = ("401", "429")) -> Schema:
    operation: Schema = {
        "summary": summary,
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": _ref(schema)}}},
            **{code: ERRORS[code] for code in errors}},
    }
    if params:
        operation["parameters"] = params
    return {"get": operation}


PATHS: dict[str, Schema] = {
    "/courses": _get("Your courses, with Canvas's and our grades.", "CourseList"),
    "/courses/{course_id}": _get("One course.", "OneCourse", [_id_param("course_id")],
                                 ("401", "404", "429")),
    "/courses/{course_id}/assignments": _get(
        "One course's assignments and your scores.", "AssignmentList",
        [_id_param("course_id")], ("401", "404", "429")),
    "/assignments": _get("Every assignment of every course, with your scores.",
                         "AssignmentList"),
    "/assignments/{assignment_id}": _get("One assignment.", "OneAssignment",
                                         [_id_param("assignment_id")], ("401", "404", "429")),
    "/grades": _get("Each course's grade as the dashboard shows it.", "GradeList"),
    "/gpa": _get("Term and cumulative GPA on your chosen scale.", "Gpa"),
    "/changes": _get("The change ledger, oldest first, a page at a time.", "ChangePage", [
        {"name": "after", "in": "query", "required": False, "schema": {"type": "integer",
         "minimum": 0}, "description": "Only changes with an id above this (a page's "
         "next_after)."},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
    ], ("401", "429")),
    "/planner": _get("Due in the next 14 days, and overdue or missing.", "Planner"),
}
PATHS["/changes"]["get"]["responses"]["400"] = _error("A query parameter is not a number "
                                                      "in range; the message names it.")


def document() -> Schema:
    """The whole OpenAPI document (paths relative to ``/api/v1``)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "GradeSync read-only API", "version": "1.0.0",
                 "description": "Your own GradeSync data, read-only. Create a personal token "
                                "in Settings and send it as `Authorization: Bearer <token>`."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A personal API token (gsk_...)."}},
        },
    }
