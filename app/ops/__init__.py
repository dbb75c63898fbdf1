"""Running GradeSync for a school: health, account deletion, the operator's overview
(issue 23); retention lives with the scheduler (``app.jobs.retention``), the data download
with the export (``app.pages.export``).

``health.py`` (``/readyz``'s checks and the worker ping), ``erase.py`` (a student's right to
leave: revoke at Canvas, delete every row, report), ``overview.py`` (the admin page's numbers,
never a grade).
"""
