"""dnnfi: fault injection for deep-neural-network inference, from Python.

The package drives the dnnfi C++ engine: the same loader, sessions, injector and campaign loop as
the ``dnnfi`` command, so results are bit-identical to the CLI's.

Quick tour::

    import numpy as np
    import dnnfi

    model = dnnfi.load("models/fmnist_resnet.onnx")      # ONNX or Keras (.h5, .keras, model.json)
    x = np.load("models/fmnist_sample_input.npy")
    logits = model.run(x)                                # as `dnnfi run` computes it

    fault = dnnfi.Fault(dnnfi.FaultSite("/stem/stem.2/Relu", 100), dnnfi.FaultModel.bitflip(30))
    r = model.inject(x, fault)                           # as `dnnfi inject`
    r.outcome, r.output                                  # 'masked' | 'sdc' | 'tolerable' | 'due'

    def halve(a):                                        # a Python fault: the whole tensor
        a *= 0.5
    model.inject(x, dnnfi.Fault(dnnfi.FaultSite("/stem/stem.2/Relu"),
                                dnnfi.FaultModel.custom(halve)))

    dnnfi.Campaign("configs/demo.yaml", trials=1000, output="runs/py").run()
    res = dnnfi.open_results("runs/py")                  # pandas DataFrames
    res.trials.outcome.value_counts()

Errors from the engine are ``dnnfi.Error`` subclasses (``LoadError``, ``NodeError``,
``UnsupportedError``, ``InputError``) whose message is the line the CLI prints after
``dnnfi: error:``. See docs/python.md.
"""

from ._dnnfi import Error, InputError, LoadError, NodeError, UnsupportedError, __version__
from .campaign import Campaign, CampaignResult, Progress
from .faults import AppliedFault, Fault, FaultModel, FaultSite
from .model import Golden, InjectResult, Model, NodeSpec, TensorSpec, load
from .results import Results, open_results

__all__ = [
    "load", "Model", "TensorSpec", "NodeSpec", "Golden", "InjectResult",
    "FaultSite", "FaultModel", "Fault", "AppliedFault",
    "Campaign", "CampaignResult", "Progress", "open_results", "Results",
    "Error", "LoadError", "NodeError", "UnsupportedError", "InputError", "__version__",
]
