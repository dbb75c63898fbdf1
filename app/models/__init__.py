"""The data model. Table and column names are a contract with operators and scripts."""

from app.models.alert import AlertDelivery, AlertSettings
from app.models.api_token import ApiToken
from app.models.assignment import Assignment
from app.models.base import Base, UTCDateTime, utcnow
from app.models.connection import CanvasConnection, CanvasOAuthClient
from app.models.course import Course, GradeCategory
from app.models.gpa import DEFAULT_CREDITS, AssignmentDone, GpaConnection, GpaCourse, GpaSettings
from app.models.grade_event import EVENT_KINDS, GradeEvent
from app.models.grading_period import GradingPeriod
from app.models.heartbeat import ServiceHeartbeat
from app.models.indexes import CANVAS_INDEXES, attach_canvas_indexes
from app.models.login_guard import LoginGuard
from app.models.progress_stream import ProgressStream
from app.models.push import NotifyChannel, PushSubscription
from app.models.sync_run import SyncRun
from app.models.term import Term
from app.models.user import User

# After every model is imported: the Canvas lookup indexes need their tables.
attach_canvas_indexes(Base.metadata)

__all__ = [
    "AlertDelivery",
    "AlertSettings",
    "ApiToken",
    "Assignment",
    "AssignmentDone",
    "Base",
    "CANVAS_INDEXES",
    "CanvasConnection",
    "CanvasOAuthClient",
    "Course",
    "DEFAULT_CREDITS",
    "EVENT_KINDS",
    "GradeCategory",
    "GpaConnection",
    "GpaCourse",
    "GpaSettings",
    "GradeEvent",
    "GradingPeriod",
    "LoginGuard",
    "NotifyChannel",
    "PushSubscription",
    "ProgressStream",
    "ServiceHeartbeat",
    "SyncRun",
    "Term",
    "User",
    "UTCDateTime",
    "utcnow",
]
