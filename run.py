"""Run GradeSync: ``python run.py --demo`` starts the demo (to be written)."""
