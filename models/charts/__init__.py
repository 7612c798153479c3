"""Control charts: Shewhart, CUSUM, EWMA, SPRT, multivariate, PCA; ARL and false-alarm budgets."""
