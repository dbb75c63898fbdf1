"""Names and shapes the dataset generator draws from: courses, students, groups, items."""

from __future__ import annotations

import random

ASCII_COURSES = (
    ("Introduction to Psychology", "PSYC 1010"), ("Calculus I", "MATH 1151"),
    ("Organic Chemistry", "CHEM 2310"), ("Principles of Biology II", "BIOL 1020"),
    ("Data Structures", "CSCI 2270"), ("World History since 1500", "HIST 1020"),
    ("Linear Algebra", "MATH 2130"), ("Physics: Mechanics", "PHYS 1110"),
    ("Microeconomics", "ECON 2010"), ("Academic Writing", "ENGL 1101"),
    ("Statistics for Scientists", "STAT 2600"), ("Introduction to Sociology", "SOCY 1001"),
    ("Discrete Mathematics", "MATH 2001"), ("Cell Biology", "MCDB 3135"),
    ("Public Speaking", "COMM 1300"), ("Computer Systems", "CSCI 2400"),
    ("Environmental Science", "ENVS 1000"), ("Music Theory I", "MUSC 1081"),
    ("Philosophy of Mind", "PHIL 3160"), ("Operating Systems", "CSCI 3753"),
    ("Genetics", "MCDB 2150"), ("Thermodynamics", "MCEN 3012"),
    ("Art History Survey", "ARTH 1300"), ("Database Systems", "CSCI 4555"),
    ("Astronomy: The Solar System", "ASTR 1010"), ("Marketing Fundamentals", "MKTG 3050"),
)
UNICODE_COURSES = (
    ("Économie 101", "ÉCON-101"), ("数学 II", "MATH-数学2"),
    ("Éthique & Société — 社会学 101 🧪", "SOC-101-Ω"), ("Español Intermedio", "SPAN 2110"),
    ("Ψυχολογία της Μάθησης", "PSY-Ψ210"), ("Müzik Tarihi", "MÜZ 210"),
    ("Русская литература", "RUSS 3010"), ("日本語 I", "JPNS 1010"),
    ("Français : Littérature du XXe siècle", "FREN 3100"), ("Café & Culture", "EURO 2000"),
    ("Čeština pro začátečníky", "CZCH 1010"), ("한국어 회화", "KORE 1020"),
)
STUDENT_NAMES = (
    ("Zoë", "Nguyễn-O'Brien"), ("José", "Álvarez"), ("Łukasz", "Wiśniewski"),
    ("Aoife", "Ní Bhraonáin"), ("Søren", "Madsen"), ("Mei", "Chen"), ("Amara", "Okonkwo"),
    ("Ingrid", "Bjørnstad"), ("Rahul", "Iyer"), ("Fatima", "Al-Sayed"), ("Chloé", "Dubois"),
    ("Kenji", "Watanabe"),
)
# (name, weight) templates; the weights of each weighted template sum to 100.
WEIGHTED_TEMPLATES = (
    (("Homework", 25.0), ("Quizzes", 15.0), ("Midterm Exams", 30.0), ("Final Exam", 30.0)),
    (("Labs", 40.0), ("Exams", 60.0)),
    (("Assignments", 20.0), ("Participation", 10.0), ("Projects", 30.0), ("Exams", 40.0)),
)
UNWEIGHTED_TEMPLATES = (
    (("Assignments", 0.0), ("Quizzes", 0.0), ("Exams", 0.0)),
    (("Homework", 50.0), ("Exams", 50.0)),  # leftover weights that must be ignored
)
LAB_TOPICS = ("Microscopy", "Titration", "Enzyme Kinetics", "Pendulum", "Spectroscopy",
              "Circuits", "Osmosis", "Field Survey")
TIME_ZONES = ("America/Chicago", "America/Denver", "Europe/Paris", "Asia/Tokyo")


def item_for(rng: random.Random, group: str, k: int) -> tuple[str, float | None, str, bool]:
    """(name, points_possible, grading_type, omit_from_final_grade) for the k-th item."""
    if group in ("Homework", "Assignments"):
        label = "Assignment" if group == "Assignments" else "Homework"
        return f"{label} {k}", float(rng.choice((10, 10, 20))), "points", False
    if group == "Quizzes":
        grading_type = "percent" if rng.random() < 0.2 else "points"
        return f"Quiz {k}", float(rng.choice((10, 15))), grading_type, False
    if group == "Midterm Exams":
        return f"Midterm {k}", 100.0, "points", False
    if group in ("Final Exam", "Exams"):
        return ("Final Exam" if group == "Final Exam" else f"Exam {k}"), 100.0, "points", False
    if group == "Labs":
        return f"Lab {k}: {LAB_TOPICS[(k - 1) % len(LAB_TOPICS)]}", 20.0, "points", False
    if group == "Participation":
        return f"Participation week {k}", 5.0, "pass_fail", False
    if group == "Projects":
        return f"Project {k}", 50.0, rng.choice(("points", "letter_grade")), False
    if k % 2 == 1:
        return "Bonus: Science Café attendance ✔", 0.0, "pass_fail", True
    return "Extra credit problem set", 0.0, "points", False
