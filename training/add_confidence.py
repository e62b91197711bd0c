"""Add a per-pixel confidence output to the exported colorize model (``colorize-auto.onnx``).

    .venv/bin/python -m training.add_confidence [--model PATH] [--out PATH] [--sharpness 0.05]

The exported model (:func:`training.train_colorize.export`) computes, at each of its 28x28
positions, a distribution ``p`` over the in-gamut a*b* bins ``c_k`` (the softmax) and outputs only
its (scaled) mean ``ab``. This adds a second output, ``confidence`` (1x1x28x28): the probability,
under the model's own distribution, that the true colour is closer to the model's estimate than
to grey::

    confidence = sum_k p_k * sigmoid((|c_k|^2 - |c_k - m|^2) * sharpness),   m = ab / scale

with ``|c|^2 - |c - m|^2 = 2 <c, m> - |m|^2`` (one 1x1 convolution of ``[a, b, a^2, b^2]``, and a
sum over the bins), the step made smooth by the sigmoid (``sharpness`` per squared Lab unit). Near 0.5 and
below, the model expects its guess to be no better than leaving the pixel grey; near 1 it is sure
of the hue. Only ONNX operators that ``cv2.dnn`` runs are used (Mul, Concat, Conv, Sigmoid), the
``ab`` output is unchanged, and the model grows by about 5 KB. The runtime
(``retouch.ops.colorize.auto``) reads both outputs when there are two.

The chroma scale ``scale`` is recovered from the model: the bin centres are the weights of the
final 1x1 convolution divided by it, and the scale is the one recorded in the model's metadata
(``chroma_scale``) or given by ``--scale`` (0.85 for the model trained in ``training/README.md``).
Re-running on a model that already has the output is refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODEL = Path("layers/retouch/retouch/ops/colorize/model/colorize-auto.onnx")
SHARPNESS = 0.05
"""Slope of the soft step, per squared Lab unit: 0.5 -> 0.92 over 50 units^2 (|c| of 25 vs 24)."""


def add_confidence(model: onnx.ModelProto, scale: float, sharpness: float = SHARPNESS) -> onnx.ModelProto:
    graph = model.graph
    if any(output.name == "confidence" for output in graph.output):
        raise SystemExit("the model already has a confidence output")
    (final,) = [node for node in graph.node if node.output[0] == "ab"]
    if final.op_type != "Conv":
        raise SystemExit(f"expected the ab output to come from a 1x1 Conv, found {final.op_type}")
    probs, weight_name = final.input[0], final.input[1]
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    centres = weights[weight_name].reshape(2, -1).T / scale  # (K, 2) bin centres in Lab units
    k = centres.shape[0]
    s = np.float32(sharpness)
    weight = np.zeros((k, 4, 1, 1), np.float32)
    weight[:, :2, 0, 0] = 2 * s * centres / scale  # 2 s <c_k, m>, m = ab / scale
    weight[:, 2:, 0, 0] = -s / scale**2  # - s |m|^2
    inits = [
        numpy_helper.from_array(weight, "conf_margin_w"),
        numpy_helper.from_array(np.ones((1, k, 1, 1), np.float32), "conf_sum_w"),  # the sum over the bins
    ]
    nodes = [  # one convolution of [a, b, a^2, b^2] (no broadcasting: OpenCV 5 mishandles it after a Conv)
        helper.make_node("Mul", ["ab", "ab"], ["conf_ab2"]),
        helper.make_node("Concat", ["ab", "conf_ab2"], ["conf_moments"], axis=1),
        helper.make_node("Conv", ["conf_moments", "conf_margin_w"], ["conf_margin"], kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["conf_margin"], ["conf_closer"]),
        helper.make_node("Mul", ["conf_closer", probs], ["conf_weighted"]),
        helper.make_node("Conv", ["conf_weighted", "conf_sum_w"], ["confidence"], kernel_shape=[1, 1]),
    ]
    graph.initializer.extend(inits)
    graph.node.extend(nodes)
    graph.output.append(helper.make_tensor_value_info("confidence", TensorProto.FLOAT, [1, 1, 28, 28]))
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, "chroma_scale": f"{scale:g}"})
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--out", type=Path, default=MODEL)
    parser.add_argument("--scale", type=float, help="the export's chroma scale (default: the model's metadata, else 0.85)")
    parser.add_argument("--sharpness", type=float, default=SHARPNESS)
    args = parser.parse_args()
    model = onnx.load(str(args.model))
    recorded = {p.key: p.value for p in model.metadata_props}.get("chroma_scale")
    scale = args.scale if args.scale is not None else float(recorded) if recorded else 0.85
    onnx.save(add_confidence(model, scale, args.sharpness), str(args.out))
    print(f"{args.out}: confidence output added (chroma scale {scale:g}, sharpness {args.sharpness:g})")


if __name__ == "__main__":
    main()
