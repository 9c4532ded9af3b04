"""ACT policy: model, data, training, temporal ensembling, deployment and evaluation.

Importing this package loads no torch: the modules below do, and only the train, deploy and eval
commands import them. Read them in this order: config, backbone, act, data, checkpoint, train
(health, loss_plot), ensemble, runner, evaluate.
"""
