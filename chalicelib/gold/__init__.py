"""The gold layer: curated tables per survey (catalog, annual values, best years, latest changes),
built from the silver layer and the survey's mapping files; see docs/gold.md."""
