"""Chalice app: thin handlers only; the logic lives in chalicelib/."""

from chalice import Chalice

app = Chalice(app_name="bls-pipeline")
