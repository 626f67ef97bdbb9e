#!/usr/bin/python3
"""Writes each TensorFlow.js fixture of tests/keras/data as a Keras 2 .h5 and a Keras 3 .keras file.

No TensorFlow needed: the layouts are written with h5py/numpy/zipfile exactly as Keras saves them
(docs/keras.md lists the layouts and where in Keras they come from):

Keras 2 (keras/saving/legacy/hdf5_format.py, save_model_to_hdf5 + save_weights_to_hdf5_group):
  /                 attrs model_config (JSON), keras_version, backend
  /model_weights    attrs layer_names (model.layers names), keras_version, backend
  /model_weights/<layer>   attr weight_names ("<layer>/kernel:0", ...; trainable then non-trainable)
  /model_weights/<layer>/<weight name>   one dataset per weight, e.g. conv1/conv1/kernel:0
Keras 3 (keras/src/saving/saving_lib.py): a zip of metadata.json, config.json and
  model.weights.h5 whose groups are addressed by snake_case class name, numbered per container in
  model.layers order: layers/conv2d/vars/0, layers/conv2d_1/vars/0, layers/sequential/layers/dense/...
"""
import codecs
import copy
import io
import json
import marshal
import os
import re
import sys
import zipfile

import h5py
import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "keras", "data")
MODEL_CLASSES = ("Sequential", "Model", "Functional")


def read_tfjs(folder):
    with open(os.path.join(folder, "model.json")) as f:
        model = json.load(f)
    data = b"".join(open(os.path.join(folder, p), "rb").read()
                    for group in model["weightsManifest"] for p in group["paths"])
    weights = {}
    offset = 0
    for group in model["weightsManifest"]:
        for spec in group["weights"]:
            n = int(np.prod(spec["shape"])) if spec["shape"] else 1
            q = spec.get("quantization")
            if q and q["dtype"] == "float16":
                value = np.frombuffer(data, np.float16, n, offset).astype(np.float32)
                offset += 2 * n
            elif q:
                dt = np.uint8 if q["dtype"] == "uint8" else np.uint16
                raw = np.frombuffer(data, dt, n, offset)
                offset += n * raw.itemsize
                value = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            elif spec.get("dtype", "float32") == "int32":
                # Keras's int64 (Normalization's count), narrowed by tensorflowjs_converter.
                value = np.frombuffer(data, np.int32, n, offset).astype(np.int64)
                offset += 4 * n
            else:
                value = np.frombuffer(data, np.float32, n, offset).copy()
                offset += 4 * n
            weights[spec["name"]] = value.reshape(spec["shape"])
    return model["modelTopology"], weights


def layer_weights(name, weights):
    """This layer's weights in the saved order: [(short name, array)]."""
    # rsplit: a layer name may hold '/' itself (Keras 2 DenseNet's "conv1/conv").
    return [(k.rsplit("/", 1)[1], v) for k, v in weights.items() if k.rsplit("/", 1)[0] == name]


def inner_layers(layer):
    return layer["config"]["layers"]


def all_weight_names(layer, weights):
    """For a layer or nested model: [(full name 'layer/w', array)], trainable before moving stats."""
    if layer["class_name"] in MODEL_CLASSES:
        out = []
        for inner in inner_layers(layer):
            out += all_weight_names(inner, weights)
        return [w for w in out if "moving_" not in w[0]] + [w for w in out if "moving_" in w[0]]
    name = layer["config"]["name"]
    return [(name + "/" + short, v) for short, v in layer_weights(name, weights)]


def top_layers(topology):
    layers = topology["config"]["layers"]
    return layers


# --- Keras 2 .h5 ------------------------------------------------------------------------------

def scaled_residual_lambda(layer):
    """InceptionResNetV2's scaled residual as Keras 2 saves it (inception_resnet_block):
    Lambda(lambda inputs, scale: inputs[0] + inputs[1] * scale, output_shape=..., arguments=
    {"scale": scale}, name=block_name), its function marshalled by generic_utils.func_dump.
    The fixtures hold it as Keras 3's CustomScaleLayer (make_applications.js)."""
    # Compiled under the module's file name, as Keras's own lambda is (and reproducibly).
    fn = eval(compile("lambda inputs, scale: inputs[0] + inputs[1] * scale",
                      "/usr/lib/python3/dist-packages/keras/applications/inception_resnet_v2.py",
                      "eval"))
    code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
    cfg = layer["config"]
    layer["class_name"] = "Lambda"
    layer["config"] = {
        "name": cfg["name"], "trainable": cfg.get("trainable", True), "dtype": "float32",
        "function": [code, None, None], "function_type": "lambda",
        "module": "keras.applications.inception_resnet_v2", "output_shape": None,
        "output_shape_type": "raw", "output_shape_module": None,
        "arguments": {"scale": cfg["scale"]}}


def keras2_config(topology):
    config = copy.deepcopy(topology)
    for key in ("keras_version", "backend"):
        config.pop(key, None)
    if config["class_name"] == "Model":
        config["class_name"] = "Functional"
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "CustomScaleLayer":
            scaled_residual_lambda(layer)
    return config


def h5_file(path, libver):
    """A new HDF5 file without object timestamps, so that regenerating gives identical files."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    low = {"earliest": h5py.h5f.LIBVER_EARLIEST, "v108": h5py.h5f.LIBVER_V18}[libver]
    fapl.set_libver_bounds(low, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def h5_group(parent, path):
    """parent[path], creating the missing groups on the way without timestamps."""
    for name in path.split("/"):
        if name not in parent:
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl)
        parent = parent[name]
    return parent


def write_h5(topology, weights, path, libver="earliest"):
    config = keras2_config(topology)
    with h5_file(path, libver) as f:
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        mw = h5_group(f, "model_weights")
        layers = top_layers(topology)
        mw.attrs["layer_names"] = np.array([l["config"]["name"].encode("utf8") for l in layers])
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = b"2.15.0"
        for layer in sorted(layers, key=lambda l: l["config"]["name"]):
            g = h5_group(mw, layer["config"]["name"])
            named = all_weight_names(layer, weights)
            g.attrs["weight_names"] = np.array([(n + ":0").encode("utf8") for n, _ in named],
                                               dtype="S" if named else "S1")
            for n, v in named:
                folder, leaf = (n + ":0").rsplit("/", 1)
                h5_group(g, folder).create_dataset(leaf, data=v, track_times=False)


# --- Keras 3 .keras ---------------------------------------------------------------------------

def snake(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def dtype_policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def keras3_layer_config(layer):
    cfg = copy.deepcopy(layer["config"])
    if "dtype" in cfg:
        cfg["dtype"] = dtype_policy()
    if layer["class_name"] == "LeakyReLU" and "alpha" in cfg:
        cfg["negative_slope"] = cfg.pop("alpha")
    if layer["class_name"] == "InputLayer":
        cfg["batch_shape"] = cfg.pop("batch_input_shape")
    return cfg


def keras3_model(model):
    """A Keras 2/tfjs model config -> Keras 3 config.json form."""
    cls = model["class_name"]
    if cls == "Sequential":
        layers = []
        for i, layer in enumerate(model["config"]["layers"]):
            if i == 0 and "batch_input_shape" in layer["config"]:
                layers.append({"module": "keras.layers", "class_name": "InputLayer",
                               "config": {"batch_shape": layer["config"]["batch_input_shape"],
                                          "dtype": "float32", "sparse": False,
                                          "name": layer["config"]["name"] + "_input"},
                               "registered_name": None})
                layer = copy.deepcopy(layer)
                del layer["config"]["batch_input_shape"]
            layers.append(keras3_sublayer(layer))
        return {"module": "keras", "class_name": "Sequential",
                "config": {"name": model["config"]["name"], "trainable": True,
                           "dtype": dtype_policy(), "layers": layers},
                "registered_name": None}
    by_name = {l["name"]: l for l in model["config"]["layers"]}

    def node_index(layer_name, index):
        # Keras 2 and tfjs number a nested Sequential's calls from 1 (its own construction is call
        # 0); Keras 3 numbers them from 0 (only Functional models keep a pre-existing node).
        if by_name[layer_name]["class_name"] == "Sequential":
            return index - 1
        return index

    def tensor(ref):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": None, "dtype": "float32",
                           "keras_history": [ref[0], node_index(ref[0], ref[1]), ref[2]]}}

    layers = []
    for layer in model["config"]["layers"]:
        out = keras3_sublayer(layer)
        out["name"] = layer["name"]
        nodes = []
        for node in layer.get("inbound_nodes", []):
            args = [tensor(r) for r in node]
            nodes.append({"args": [args] if len(args) > 1 else args, "kwargs": {}})
        out["inbound_nodes"] = nodes
        layers.append(out)
    refs = lambda rs: [[r[0], node_index(r[0], r[1]), r[2]] for r in rs]
    return {"module": "keras", "class_name": "Functional",
            "config": {"name": model["config"]["name"], "trainable": True, "layers": layers,
                       "input_layers": refs(model["config"]["input_layers"]),
                       "output_layers": refs(model["config"]["output_layers"])},
            "registered_name": "Functional"}


def keras3_sublayer(layer):
    if layer["class_name"] in MODEL_CLASSES:
        return keras3_model(layer)
    return {"module": "keras.layers", "class_name": layer["class_name"],
            "config": keras3_layer_config(layer), "registered_name": None}


def write_keras3_weights(h5, prefix, layers, weights):
    used = {}
    for layer in layers:
        name = snake(layer["class_name"])
        if layer["class_name"] == "Model":
            name = "functional"
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        path = prefix + "layers/" + name
        if layer["class_name"] in MODEL_CLASSES:
            h5.create_group(path + "/vars")
            write_keras3_weights(h5, path + "/", inner_layers(layer), weights)
            continue
        g = h5.create_group(path + "/vars")
        for i, (_, v) in enumerate(layer_weights(layer["config"]["name"], weights)):
            g.create_dataset(str(i), data=v)


def write_keras(topology, weights, path):
    config = keras3_model(topology)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.create_group("vars")
        write_keras3_weights(h5, "", top_layers(topology), weights)
    files = [("metadata.json", json.dumps({"keras_version": "3.3.3",
                                           "date_saved": "2024-01-01@00:00:00"})),
             ("config.json", json.dumps(config)), ("model.weights.h5", buf.getvalue())]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files:
            # A fixed timestamp, so that regenerating gives identical files.
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


# Keras 2 layers that Keras 3 removed: these fixtures get no .keras file.
KERAS2_ONLY = ("thresholded_relu",)
# The applications (make_applications.js) are kept as tfjs models only (3.7 MB in all), but for
# these, which get a .keras too: Keras 3's CustomScaleLayer and a plain ResNet. Their .h5 files
# are left out: one of a few hundred layers is mostly HDF5 group headers (InceptionResNetV2:
# 0.8 MB); run with KERAS_APP_H5=1 to write them (the Keras 2 Lambda of InceptionResNetV2).
APPS_WITH_KERAS_FILES = ("app_inception_resnet_v2", "app_resnet50")
KERAS3_ONLY = () if os.environ.get("KERAS_APP_H5") else APPS_WITH_KERAS_FILES
# h5py's default file format (what Keras writes) is kept for probe; the others use the HDF5 1.8+
# format (compact groups), which the HDF5 library reads the same way and which is ~40% smaller.
KERAS_DEFAULT_HDF5 = ("probe",)


def write_bad_files(folder):
    """probe with its conv bias missing or its kernel of the wrong shape, in bad_weights/."""
    topology, weights = read_tfjs(folder)
    out = os.path.join(DATA, "bad_weights")
    os.makedirs(out, exist_ok=True)
    missing = {k: v for k, v in weights.items() if k != "conv/bias"}
    wrong = dict(weights, **{"conv/kernel": weights["conv/kernel"][:2]})
    for tag, w in (("missing_weight", missing), ("wrong_shape", wrong)):
        write_h5(topology, w, os.path.join(out, tag + ".h5"), "v108")
        write_keras(topology, w, os.path.join(out, tag + ".keras"))
    print("probe -> bad_weights/{missing_weight,wrong_shape}.{h5,keras}")


def write_slash_names(folder):
    """probe with its conv layer named "conv1/conv", as Keras 2's DenseNet names layers: the .h5
    then holds the nested groups model_weights/conv1/conv/conv1/conv/kernel:0 (h5py makes the
    intermediate groups, as in a file Keras saves). Inputs and outputs are probe's."""
    topology, weights = read_tfjs(folder)
    text = json.dumps(topology).replace('"conv"', '"conv1/conv"')
    topology = json.loads(text)
    weights = {("conv1/" + k if k.startswith("conv/") else k): v for k, v in weights.items()}
    out = os.path.join(DATA, "slash_names")
    os.makedirs(out, exist_ok=True)
    write_h5(topology, weights, os.path.join(out, "model.h5"), "v108")
    for f in ("input_0.npy", "expected_0.npy"):
        with open(os.path.join(folder, f), "rb") as src, open(os.path.join(out, f), "wb") as dst:
            dst.write(src.read())
    print("probe -> slash_names/model.h5")


def main():
    folders = sys.argv[1:] or sorted(os.listdir(DATA))
    for name in folders:
        if name.startswith("app_") and name not in APPS_WITH_KERAS_FILES:
            continue  # tfjs only, to keep the fixtures small
        folder = os.path.join(DATA, name)
        if not os.path.isfile(os.path.join(folder, "model.json")) or name.endswith(("_uint8", "_uint16")):
            continue  # the quantized variants exist only as tfjs models
        topology, weights = read_tfjs(folder)
        libver = "earliest" if name in KERAS_DEFAULT_HDF5 else "v108"
        if name in KERAS3_ONLY:
            write_keras(topology, weights, os.path.join(folder, "model.keras"))
            print(name, "->", "model.keras")
            continue
        write_h5(topology, weights, os.path.join(folder, "model.h5"), libver)
        if name in KERAS2_ONLY:
            print(name, "->", "model.h5")
            continue
        write_keras(topology, weights, os.path.join(folder, "model.keras"))
        print(name, "->", "model.h5, model.keras")
        if name == "probe":
            write_bad_files(folder)
            write_slash_names(folder)


if __name__ == "__main__":
    main()
