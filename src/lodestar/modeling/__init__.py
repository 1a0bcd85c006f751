"""Models: risk, response, uplift, scorecard, churn and next-best-product, and the metrics that
evaluate and monitor them (``lodestar.modeling.metrics``)."""
