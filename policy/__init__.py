"""ACT model, data loading, training, temporal-ensembling runner, evaluation."""
