"""The business reports: the BLS data-file reader and the computations (pandas)."""
