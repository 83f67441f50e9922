"""The estimators: pure functions of times and events returning frozen results, matched to R."""
