"""The ``ops`` blueprint object, shared by the modules that add routes to it."""

from flask import Blueprint

bp = Blueprint("ops", __name__)
