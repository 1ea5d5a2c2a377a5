"""HTTP routes (reports API and dashboard), registered on the app as a blueprint."""

from chalice import Blueprint

api = Blueprint(__name__)
