"""The BLS file format: data files, periods, exact decimals, series and mapping files.

Below both `chalicelib.reports` and `chalicelib.lake` (which share this knowledge); imports
only `chalicelib.core` and third-party packages.
"""
