"""Running GradeSync for a school: health, account deletion and export, retention, the
operator's overview (issue 23).

``health.py`` (``/readyz``'s checks and the worker ping), ``erase.py`` (a student's right to
leave: revoke at Canvas, delete every row, report), ``export.py`` ("Download my data"),
``retention.py`` (pruning old grade events and run history), ``overview.py`` (the admin page's
numbers, never a grade).
"""
