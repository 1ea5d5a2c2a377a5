"""U.S. population from DataUSA: fetch, parse both API shapes, validate, store as received."""
