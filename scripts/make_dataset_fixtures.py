#!/usr/bin/python3
"""Build the small dataset fixtures used by tests/campaign/test_dataset.cpp.

Every file is written by an independent tool, so the C++ readers and preprocessing are checked
against it and not against themselves:

  npy/, npz/   numpy.save / numpy.savez / numpy.savez_compressed
  idx/         IDX files packed by hand with struct (plain and gzip), plus broken variants
  cifar/       CIFAR-10/100 binary records packed by hand (label bytes + planar RGB)
  images/      an ImageFolder tree (2 classes) written by PIL: PNG, PPM, JPEG, PGM, RGBA PNG
  gtsrb/       GTSRB-style CSVs (GTSRB ';' with ROI, Kaggle ',' with Path) and broken variants
  expected/    what the readers must return (PIL decodes, numpy slicing/transposes) and what
               preprocessing must produce (torchvision.transforms / torch.nn.functional on float64
               tensors, numpy for grayscale and tensor samples); manifest.json ties them together,
               including facts about Debian's real Fashion-MNIST t10k files.

Usage: /usr/bin/python3 scripts/make_dataset_fixtures.py [--out DIR]
Deterministic (seeded); needs numpy, PIL, torch and torchvision (Debian's python3 packages).
"""

import argparse
import gzip
import io
import json
import os
import shutil
import struct
import warnings

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "campaign", "data")
FASHION = "/usr/share/datasets/fashion-mnist"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def save_npy(path, a):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, a)


def gzip_bytes(data):
    # mtime=0 keeps the output byte-identical between runs.
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def idx_bytes(a, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in a.shape)
    return header + a.astype(np.uint8).tobytes()


def make_arrays(out, rng, manifest):
    hwc = rng.integers(0, 256, size=(3, 4, 5, 3), dtype=np.uint8)
    labels = np.array([2, 0, 1], dtype=np.int64)
    save_npy(f"{out}/npy/hwc.npy", hwc)
    save_npy(f"{out}/npy/chw.npy", np.ascontiguousarray(hwc.transpose(0, 3, 1, 2)).astype(np.float32))
    save_npy(f"{out}/npy/hw.npy", hwc[..., 0].astype(np.int16))
    save_npy(f"{out}/npy/labels.npy", labels)
    save_npy(f"{out}/npy/labels_float.npy", labels.astype(np.float32))
    save_npy(f"{out}/npy/labels_u8.npy", labels.astype(np.uint8))
    save_npy(f"{out}/npy/labels_short.npy", labels[:2])
    save_npy(f"{out}/npy/labels_negative.npy", np.array([2, -1, 1], dtype=np.int32))
    save_npy(f"{out}/npy/labels_fraction.npy", np.array([2.0, 0.5, 1.0], dtype=np.float64))
    tensor = rng.standard_normal((3, 2, 3, 4))
    save_npy(f"{out}/npy/tensor_f64.npy", tensor)
    save_npy(f"{out}/expected/tensor_f32.npy", tensor.astype(np.float32))
    # The HWC pixels every image layout must give (as float32), per sample.
    save_npy(f"{out}/expected/array_hwc_f32.npy", hwc.astype(np.float32))

    os.makedirs(f"{out}/npz", exist_ok=True)
    np.savez_compressed(f"{out}/npz/compressed.npz", x=hwc, y=labels)
    np.savez(f"{out}/npz/stored.npz", images=tensor.astype(np.float16), targets=labels.astype(np.int16))
    save_npy(f"{out}/expected/tensor_f16_as_f32.npy", tensor.astype(np.float16).astype(np.float32))
    manifest["array_labels"] = labels.tolist()


def make_idx(out, rng, manifest):
    images = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    labels = np.array([7, 3, 9], dtype=np.uint8)
    img_b = idx_bytes(images, 0x00000803)
    lab_b = idx_bytes(labels, 0x00000801)
    write(f"{out}/idx/images-idx3-ubyte", img_b)
    write(f"{out}/idx/labels-idx1-ubyte", lab_b)
    write(f"{out}/idx/images-idx3-ubyte.gz", gzip_bytes(img_b))
    write(f"{out}/idx/labels-idx1-ubyte.gz", gzip_bytes(lab_b))
    write(f"{out}/idx/truncated-idx3-ubyte", img_b[:-7])
    write(f"{out}/idx/truncated-idx3-ubyte.gz", gzip_bytes(img_b)[:-12])
    write(f"{out}/idx/labels-short-idx1-ubyte", idx_bytes(labels[:2], 0x00000801))
    save_npy(f"{out}/expected/idx_images.npy", images)
    manifest["idx_labels"] = labels.tolist()


def make_cifar(out, rng, manifest):
    def records(labels_per_record):
        pix = rng.integers(0, 256, size=(len(labels_per_record), 3, 32, 32), dtype=np.uint8)
        data = b"".join(bytes(lab) + p.tobytes() for lab, p in zip(labels_per_record, pix))
        # CIFAR stores planar R, G, B planes of 32 rows; HWC is the transpose.
        return data, pix.transpose(0, 2, 3, 1)

    c10a, hwc10a = records([[3], [8]])
    c10b, hwc10b = records([[1]])
    write(f"{out}/cifar/cifar10_a.bin", c10a)
    write(f"{out}/cifar/cifar10_b.bin", c10b)
    save_npy(f"{out}/expected/cifar10_hwc.npy", np.concatenate([hwc10a, hwc10b]))
    write(f"{out}/cifar/cifar10_bad_size.bin", c10a[:-5])
    bad, _ = records([[2], [10]])
    write(f"{out}/cifar/cifar10_bad_label.bin", bad)
    c100, hwc100 = records([[4, 42], [19, 99]])  # (coarse, fine)
    write(f"{out}/cifar/cifar100.bin", c100)
    save_npy(f"{out}/expected/cifar100_hwc.npy", hwc100)
    manifest["cifar10_labels"] = [3, 8, 1]
    manifest["cifar100_fine"] = [42, 99]
    manifest["cifar100_coarse"] = [4, 19]


def gradient_rgb(rng, h, w):
    # Smooth content keeps JPEG decoders (libjpeg vs stb_image) within a few levels of each other.
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x + y) * 127 / (h + w)], -1)
    return np.clip(base + rng.integers(-8, 9, size=(h, w, 3)), 0, 255).astype(np.uint8)


def make_images(out, rng, manifest):
    root = f"{out}/images"
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(f"{root}/cat")
    os.makedirs(f"{root}/dog/sub")
    Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).save(f"{root}/cat/a.png")
    # Upper-case extension; "Z" sorts before "a" in byte order, as in Python's sorted().
    Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).save(
        f"{root}/cat/Z.PPM", format="PPM")
    Image.fromarray(gradient_rgb(rng, 16, 16)).save(f"{root}/dog/c.jpg", quality=95)
    Image.fromarray(rng.integers(0, 256, (3, 4), dtype=np.uint8)).save(f"{root}/dog/d.pgm")
    Image.fromarray(rng.integers(0, 256, (3, 3, 4), dtype=np.uint8), "RGBA").save(
        f"{root}/dog/sub/e.png")
    with open(f"{root}/dog/readme.txt", "w") as f:
        f.write("not an image; the reader skips it\n")

    # torchvision's ImageFolder fixes the class order, file order and labels.
    folder = torchvision.datasets.ImageFolder(root)
    samples = []
    for i, (path, label) in enumerate(folder.samples):
        im = Image.open(path)
        arr = np.asarray(im.convert("L" if im.mode in ("L", "LA") else "RGB"))
        name = f"images_{i}.npy"
        save_npy(f"{out}/expected/{name}", arr)
        samples.append({"path": os.path.relpath(path, root), "label": label, "expected": name,
                        "jpeg": path.endswith(".jpg")})
    manifest["images"] = {"classes": folder.classes, "samples": samples}


def make_gtsrb(out, rng, manifest):
    root = f"{out}/gtsrb"
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(f"{root}/Test")
    a = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (9, 8, 3), dtype=np.uint8)
    Image.fromarray(a).save(f"{root}/00000.ppm")
    Image.fromarray(b).save(f"{root}/00001.ppm")
    Image.fromarray(b).save(f"{root}/Test/00002.png")
    rows = [("00000.ppm", a, (2, 1, 9, 7), 14), ("00001.ppm", b, (0, 0, 7, 8), 3)]
    lines = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for name, img, (x1, y1, x2, y2), cls in rows:
        lines.append(f"{name};{img.shape[1]};{img.shape[0]};{x1};{y1};{x2};{y2};{cls}")
    # CRLF line ends, as in the GTSRB download.
    write(f"{root}/GT-final_test.csv", ("\r\n".join(lines) + "\r\n").encode())
    for i, (name, img, (x1, y1, x2, y2), cls) in enumerate(rows):
        save_npy(f"{out}/expected/gtsrb_{i}.npy", img[y1:y2 + 1, x1:x2 + 1])  # ROI is inclusive
    write(f"{root}/kaggle.csv",
          b"Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path\n8,9,1,2,6,7,42,Test/00002.png\n")
    save_npy(f"{out}/expected/gtsrb_kaggle_0.npy", b[2:8, 1:7])
    write(f"{root}/no_class.csv", b"Filename;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2\n00000.ppm;0;0;3;3\n")
    write(f"{root}/bad_row.csv", b"Filename;ClassId\n00000.ppm;1\n00001.ppm;seven\n")
    manifest["gtsrb_labels"] = [14, 3]


def preprocess_oracle(img_hwc, resize=None, crop=None, scale=1.0, mean=None, std=None):
    """torchvision on a float64 CHW tensor: the same steps and order as the C++ pipeline."""
    x = torch.from_numpy(np.ascontiguousarray(img_hwc.transpose(2, 0, 1))).double()
    if resize is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR, antialias=False)(x)
    if crop is not None:
        x = T.CenterCrop(crop)(x)
    x = x * scale
    if mean is not None:
        x = T.Normalize(mean, std)(x)
    return x.unsqueeze(0).numpy()


def make_preprocess(out, rng, manifest):
    src = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    save_npy(f"{out}/expected/pre_src.npy", src)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    cases = []

    def case(name, cfg, expected):
        save_npy(f"{out}/expected/pre_{name}.npy", expected.astype(np.float32))
        cases.append(dict(name=name, expected=f"pre_{name}.npy", **cfg))

    # Shorter side 7 -> 5 (so 9 -> int(5 * 9 / 7) = 6), crop 4x4, ImageNet normalisation, NCHW.
    case("imagenet", dict(resize=[5], center_crop=[4, 4], scale=1 / 255, mean=mean, std=std),
         preprocess_oracle(src.astype(np.float64), 5, [4, 4], 1 / 255, mean, std))
    # Tall image (transposed source): the width is the shorter side.
    tall = src.transpose(1, 0, 2)
    case("tall", dict(source="transpose", resize=[6]), preprocess_oracle(tall.astype(np.float64), 6))
    # Upsample to [h, w], then luma and one mean/std value for the single channel, NHWC.
    luma = (0.299 * src[..., 0] + 0.587 * src[..., 1] + 0.114 * src[..., 2])[..., None]
    up = preprocess_oracle(luma, [10, 12], None, 1.0, [0.5], [2.0])  # NCHW [1,1,10,12]
    case("gray_up_nhwc", dict(grayscale=True, resize=[10, 12], mean=[0.5], std=[2.0], nhwc=True),
         up.transpose(0, 2, 3, 1))
    # BGR, odd crop offsets (round-half-even) in height and zero padding in width.
    case("bgr_crop_pad", dict(bgr=True, center_crop=[4, 12], scale=2.0),
         preprocess_oracle(src[..., ::-1].astype(np.float64), None, [4, 12], 2.0))
    case("crop_odd", dict(center_crop=[4, 4]), preprocess_oracle(src.astype(np.float64), None, [4, 4]))
    # A one-channel image for a three-channel model is replicated.
    gray = src[..., :1]
    case("gray_to_rgb", dict(source="channel0", mean=[1, 2, 3], std=[1, 2, 4]),
         preprocess_oracle(np.repeat(gray, 3, axis=2).astype(np.float64), None, None, 1.0,
                           [1, 2, 3], [1, 2, 4]))
    # Tensor samples: [2,3,4] into [1,2,3,4] (channels on axis 1) and [1,3,4,2] (channels last).
    t = np.load(f"{out}/expected/tensor_f32.npy")[1].astype(np.float64)
    nchw = (t.reshape(1, 2, 3, 4) * 0.5 - np.array([1, 2]).reshape(1, 2, 1, 1)) / \
        np.array([2, 4]).reshape(1, 2, 1, 1)
    case("tensor_nchw", dict(source="tensor1", scale=0.5, mean=[1, 2], std=[2, 4]), nchw)
    nhwc = (t.reshape(1, 3, 4, 2) * 0.5 - np.array([1, 2])) / np.array([2, 4])
    case("tensor_nhwc", dict(source="tensor1", scale=0.5, mean=[1, 2], std=[2, 4], nhwc=True), nhwc)
    manifest["preprocess"] = cases


def fashion_facts(manifest):
    with gzip.open(f"{FASHION}/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{FASHION}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    picks = [0, 1, 4321, len(labels) - 1]
    manifest["fashion_mnist_t10k"] = {
        "count": int(len(labels)),
        "height": 28, "width": 28,
        "samples": [{"index": i, "label": int(labels[i]), "pixel_sum": int(images[i].sum()),
                     "pixel_14_14": int(images[i, 14, 14])} for i in picks],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    out = args.out
    for sub in ("npy", "npz", "idx", "cifar", "expected"):
        shutil.rmtree(f"{out}/{sub}", ignore_errors=True)
    rng = np.random.default_rng(20240611)
    manifest = {"generator": "scripts/make_dataset_fixtures.py"}
    make_arrays(out, rng, manifest)
    make_idx(out, rng, manifest)
    make_cifar(out, rng, manifest)
    make_images(out, rng, manifest)
    make_gtsrb(out, rng, manifest)
    make_preprocess(out, rng, manifest)
    fashion_facts(manifest)
    with open(f"{out}/expected/manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
