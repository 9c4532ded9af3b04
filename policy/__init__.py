"""ACT policy: model, data, training, temporal ensembling, deployment, evaluation and export.

Importing this package loads no torch: the modules below do, and only the train, deploy, eval and
export-policy commands import them (deploy and eval of an .onnx file need no torch at all). Read them
in this order: config, backbone, act, data, checkpoint, train (health, loss_plot), ensemble, api
(`load_policy`: torch_policy, onnx_policy), runner, evaluate, export.

For your own control code: `from demoforge.policy import load_policy` (api.py; docs/edge-deployment.md).
"""

from demoforge.policy.api import Policy, load_policy

__all__ = ["Policy", "load_policy"]
