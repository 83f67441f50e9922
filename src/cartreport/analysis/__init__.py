"""From a validated table to the analysis: parameters, endpoints, fits and the results.json dict."""
