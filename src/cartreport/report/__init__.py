"""The report's words, numbers, tables and figures, drawn from results (never recomputed)."""
