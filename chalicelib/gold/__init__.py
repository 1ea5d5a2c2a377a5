"""The gold layer (issue 20): curated tables per survey — series catalog, annual values, best years,
latest changes — built from silver (chalicelib.lake) and read by the web explorer (`read.py`)."""
