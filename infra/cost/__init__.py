"""Cost, complexity and scalability: pricing catalog, usage scenarios, estimator and comparator."""
