"""The BLS mirror: listing parser, pure plan, bookkeeping state, and the sync that applies a plan."""
