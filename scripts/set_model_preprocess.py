#!/usr/bin/python3
"""Stores the preprocessing a model expects in its ONNX metadata_props, under the key
dnnfi.preprocess, as YAML with the keys of a campaign config's preprocess: section
(docs/campaigns.md). Nothing else in the file changes: the script checks that the graph (weights
included) serializes to the same bytes before and after.

    /usr/bin/python3 scripts/set_model_preprocess.py MODEL.onnx 'YAML'
    /usr/bin/python3 scripts/set_model_preprocess.py MODEL.onnx --remove

The bundled model (models/README.md):

    /usr/bin/python3 scripts/set_model_preprocess.py models/fmnist_resnet.onnx \\
        '{scale: 0.00392156862745098, mean: [0.2860], std: [0.3530]}'

Check the result with `build/dnnfi inspect MODEL.onnx` (it parses the value as a campaign does).
Needs Debian's python3-onnx (apt-get install python3-onnx).
"""
import sys

import onnx

KEY = "dnnfi.preprocess"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, value = sys.argv[1], sys.argv[2]
    model = onnx.load_model(path)
    graph_before = model.graph.SerializeToString()
    kept = [p for p in model.metadata_props if p.key != KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    if value != "--remove":
        model.metadata_props.add(key=KEY, value=value)
    if model.graph.SerializeToString() != graph_before:
        sys.exit("the graph changed; not writing")
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, path)
    print("%s: %s = %s" % (path, KEY, value if value != "--remove" else "(removed)"))


if __name__ == "__main__":
    main()
