"""Running GradeSync for a school: health, account deletion and export, the operator's
overview (issue 23); retention lives with the scheduler (``app.jobs.retention``).

``health.py`` (``/readyz``'s checks and the worker ping), ``erase.py`` (a student's right to
leave: revoke at Canvas, delete every row, report), ``export.py`` ("Download my data"),
``overview.py`` (the admin page's numbers,
never a grade).
"""
