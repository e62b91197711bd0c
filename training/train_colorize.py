"""Train the compact colorization network behind ``colorize`` mode ``auto`` and export it to ONNX.

    build/trainvenv/bin/python -m training.train_colorize [--minutes 45] [--fresh] [--init-onnx MODEL.onnx]

Method (Zhang, Isola & Efros, "Colorful image colorization", ECCV 2016, scaled down): the
network sees the L* channel of a photo squashed to 224x224 (halved to 112x112 inside the
network, to train in minutes on two CPU cores) and predicts, at 28x28, a
distribution over :data:`GRID`-spaced a*b* bins that are inside the sRGB gamut. The loss is
the cross-entropy against a soft encoding of the true a*b* (5 nearest bins, Gaussian
sigma 5) weighted by Zhang's class rebalancing (``lambda`` = 0.5 mix of the empirical prior
with a uniform one), so that rare saturated colours are not drowned by the greys and browns.
A global branch (average pooling of the deepest features, after Iizuka, Simo-Serra & Ishikawa,
"Let there be color!", SIGGRAPH 2016) gives every position the scene context.

The exported model takes ``L* - 50`` (1x1x224x224) and returns the *annealed mean* a*b*
(1x2x28x28) of the bin distribution with the rebalancing optionally undone (the prior
correction, :data:`PRIOR_CORRECTIONS`), times a chroma scale, with the correction, temperature
and scale chosen on the held-out split (:data:`TEMPERATURES`, :data:`SCALES`), so the runtime
(``retouch.ops.colorize``) runs it with ``cv2.dnn`` only.

Data: ``training/colorize_data.json`` (fetched by ``training.colorize_data``); the ``val``
photos are never trained on. Augmentation, since the photos are few: random crops of 30-100 % of
each side (several scales of the full-size photos, aspect ratio jittered), mirroring, and for
half of the samples the L* input taken from the photo turned grey the way users' grey photos
are made (``round(rgb2gray * 255)``, ITU-R 709 luma weights) instead of the true L*.
``--init-onnx`` starts from the weights of an exported model (the shipped one): its
convolutions have the batch norms folded in, so each batch norm is re-calibrated on training
batches to reproduce the folded network before fine-tuning (:func:`init_from_onnx`).

Training is bounded by ``--minutes`` (wall clock) and by ``--steps``, is seeded (the list's
``seed``), and checkpoints every :data:`CHECKPOINT_EVERY` steps to ``<work>/checkpoint.pt``;
re-running resumes from it (``--fresh`` starts over).
Needs torch, onnx and opencv-python-headless (a training venv; nothing of this ships).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from retouch_testkit.synthetic import edge_halves, edge_image

LIST = Path(__file__).with_name("colorize_data.json")
MODEL_OUT = Path("layers/retouch/retouch/ops/colorize/model/colorize-auto.onnx")
SIZE = 224
TRAIN_SIZE = 112
OUT_SIZE = 28
GRID = 10.0
SIGMA = 5.0
NEIGHBOURS = 5
REBALANCE = 0.5
BATCH = 16
MIN_CROP = 0.3
"""Smallest crop side, as a fraction of the photo's side (crops are squashed to the input size)."""
GREY_INPUT = 0.5
"""Fraction of samples whose L* input comes from the photo turned grey (as users' grey photos are)."""
LUMA = np.array([0.2125, 0.7154, 0.0721], np.float32)
"""scikit-image's ``rgb2gray`` weights (ITU-R 709), used to turn photos grey as the evaluation does."""
CHECKPOINT_EVERY = 50
EVALUATE_EVERY = 250
TEMPERATURES = (0.38, 0.6, 1.0)
SCALES = (0.4, 0.55, 0.7, 0.85, 1.0)
"""Chroma scales tried at export; the largest within 2% of the lowest held-out error wins (an
uncertain model lowers its mean error by predicting less chroma; the 2% keeps it vivid)."""
FLAT_MAX_STD = 6.0
"""Most the exported a*b* may vary (standard deviation, per channel) over each featureless half of
:func:`featureless` - a model told nothing by the photo must not paint blotches. The runtime measures within 5 % of
this (``tests/unit/test_colorize.py`` requires below 7 there); the previous model measured 5.8."""
PRIOR_CORRECTIONS = (0.0, 1.0)
"""Strengths ``alpha`` of the prior correction tried at export: the logits minus ``alpha`` times the
log of the class-rebalancing weights. Rebalancing trains the classifier to over-predict rare,
saturated colours (it keeps the colours vivid while learning); with ``alpha`` = 1 the decoded
distribution is, approximately, the unweighted posterior again, whose mean is the estimate with
the lowest expected error, and the chroma scale then sets how vivid the result is."""

log = logging.getLogger("train_colorize")

# --------------------------------------------------------------------------- colour bins


def gamut_bins() -> np.ndarray:
    """Centres (Q, 2) of the a*b* grid cells that are inside the sRGB gamut at some L*."""
    axis = np.arange(-110.0, 110.0 + 1e-6, GRID, dtype=np.float32)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    keep = np.zeros(a.shape, bool)
    for lightness in np.arange(2.0, 99.0, 2.0, dtype=np.float32):
        lab = np.stack([np.full_like(a, lightness), a, b], axis=-1)
        rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        back = cv2.cvtColor(np.clip(rgb, 0, 1), cv2.COLOR_RGB2Lab)
        keep |= np.linalg.norm(back[..., 1:] - lab[..., 1:], axis=-1) < GRID / 2
    return np.stack([a[keep], b[keep]], axis=1).astype(np.float32)


def soft_encode(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) a*b* -> (N, Q, H, W) soft one-hot over the :data:`NEIGHBOURS` nearest bins."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, bins) ** 2
    near_d2, near = torch.topk(d2, NEIGHBOURS, dim=1, largest=False)
    weights = torch.exp(-near_d2 / (2 * SIGMA**2))
    weights = weights / weights.sum(dim=1, keepdim=True)
    out = torch.zeros(flat.shape[0], bins.shape[0])
    out.scatter_(1, near, weights)
    return out.reshape(n, h, w, -1).permute(0, 3, 1, 2)


# --------------------------------------------------------------------------- network


def _block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ColorNet(nn.Module):
    """Encoder (112 -> 7), dilated context at 14, global branch, decoder to 28x28 bin logits."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(_block(1, 24), _block(24, 32, 2))  # 56
        self.enc2 = nn.Sequential(_block(32, 64, 2), _block(64, 64))  # 28
        self.enc3 = nn.Sequential(_block(64, 128, 2), _block(128, 128, dilation=2), _block(128, 128, dilation=2))  # 14
        self.enc4 = nn.Sequential(_block(128, 160, 2), _block(160, 160))  # 7
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.glob = nn.Sequential(nn.Conv2d(160, 160, 1), nn.ReLU(inplace=True), nn.Conv2d(160, 160, 1))
        self.dec3 = _block(160 + 128, 128)
        self.dec2 = nn.Sequential(nn.Conv2d(128 + 64, 64, 1), nn.ReLU(inplace=True), _block(64, 64))
        self.head = nn.Conv2d(64, bins, 1)

    def forward(self, centred_l: torch.Tensor) -> torch.Tensor:
        """``L* - 50`` at 112x112 -> bin logits at 28x28."""
        x = centred_l * (1.0 / 50.0)
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        e4 = F.relu(e4 + self.glob(self.pool(e4)).expand_as(e4))  # explicit Expand for cv2.dnn
        d3 = self.dec3(torch.cat([F.interpolate(e4, scale_factor=2.0, mode="bilinear", align_corners=False), e3], 1))
        d2 = self.dec2(torch.cat([F.interpolate(d3, scale_factor=2.0, mode="bilinear", align_corners=False), e2], 1))
        return self.head(d2)


class AnnealedMean(nn.Module):
    """Export wrapper: logits -> annealed-mean a*b* (Zhang et al.'s ``T``)."""

    def __init__(
        self,
        net: nn.Module,
        bins: np.ndarray,
        temperature: float,
        scale: float = 1.0,
        log_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.inv_t = 1.0 / temperature
        # prior correction (see PRIOR_CORRECTIONS): a constant added to the logits
        correction = torch.zeros(bins.shape[0]) if log_weights is None else -log_weights
        self.register_buffer("correction", correction.reshape(1, -1, 1, 1).float())
        self.centres = nn.Conv2d(bins.shape[0], 2, 1, bias=False)  # chroma scale folded into the bin centres
        self.centres.weight.data = torch.from_numpy(scale * bins.T.copy()).reshape(2, -1, 1, 1)

    def forward(self, centred_l: torch.Tensor) -> torch.Tensor:
        """``L* - 50`` at 224x224 (the runtime interface) -> a*b* at 28x28."""
        small = F.avg_pool2d(centred_l, 2)
        return self.centres(torch.softmax((self.net(small) + self.correction) * self.inv_t, dim=1))


# --------------------------------------------------------------------------- data


def to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def grey_lightness(rgb: np.ndarray) -> np.ndarray:
    """L* of ``rgb`` (uint8) turned grey as the evaluation and users do: round(709 luma * 255)."""
    grey = np.rint(rgb.astype(np.float32) @ LUMA).astype(np.uint8)
    return to_lab(np.dstack([grey, grey, grey]))[..., 0]


def load_split(root: Path, split: str) -> list[tuple[str, np.ndarray]]:
    """The photos of ``split`` as RGB uint8 (the training photos are up to 1024 px)."""
    out = []
    for path in sorted((root / split).glob("*.png")):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(path)
        out.append((path.stem, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return out


def sample(rgb: np.ndarray, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """A random crop (:data:`MIN_CROP`-100 % of each side, so several scales of the full-size
    photo), squashed to 112 (the runtime squashes to 224 and the exported model halves it); maybe
    mirrored; its L* input taken from the grey version for :data:`GREY_INPUT` of the samples."""
    h, w = rgb.shape[:2]
    side = rng.uniform(MIN_CROP, 1.0)
    ch = int(h * min(1.0, side * rng.uniform(0.8, 1.25)))
    cw = int(w * min(1.0, side * rng.uniform(0.8, 1.25)))
    y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
    crop = rgb[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = np.ascontiguousarray(crop)
    small = cv2.resize(crop, (TRAIN_SIZE, TRAIN_SIZE), interpolation=cv2.INTER_AREA)
    lab = to_lab(small)
    lightness = grey_lightness(small) if rng.random() < GREY_INPUT else lab[..., 0]
    ab = cv2.resize(lab[..., 1:], (OUT_SIZE, OUT_SIZE), interpolation=cv2.INTER_AREA)
    return lightness - 50.0, ab.transpose(2, 0, 1)


def class_weights(train: list[tuple[str, np.ndarray]], bins: torch.Tensor) -> torch.Tensor:
    """Zhang et al.'s rebalancing weights from the empirical a*b* prior of the training photos."""
    counts = torch.zeros(bins.shape[0])
    for _, rgb in train:
        lab = to_lab(cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA))
        ab = lab[..., 1:].reshape(-1, 2)
        counts += soft_encode(torch.from_numpy(ab.T.copy()).reshape(1, 2, 64, 64), bins).sum(dim=(0, 2, 3))
    prior = counts / counts.sum()
    d2 = torch.cdist(bins, bins) ** 2  # smooth the prior (Gaussian, sigma 5) as in the paper
    prior = (torch.exp(-d2 / (2 * SIGMA**2)) @ prior) / torch.exp(-d2 / (2 * SIGMA**2)).sum(1)
    prior = prior / prior.sum()
    weights = 1.0 / ((1 - REBALANCE) * prior + REBALANCE / bins.shape[0])
    return weights / (prior * weights).sum()


# --------------------------------------------------------------------------- evaluation


def predict(model: nn.Module, lightness: np.ndarray) -> np.ndarray:
    """a*b* at full size for one photo's L* (bilinear upsampling of the 28x28 output)."""
    h, w = lightness.shape[:2]
    small = cv2.resize(lightness, (SIZE, SIZE), interpolation=cv2.INTER_AREA) - 50.0
    with torch.no_grad():
        out = model(torch.from_numpy(small)[None, None]).numpy()[0].transpose(1, 2, 0)
    return cv2.resize(np.ascontiguousarray(out), (w, h), interpolation=cv2.INTER_LINEAR)


def evaluate(
    net: ColorNet,
    bins: np.ndarray,
    val: list[tuple[str, np.ndarray]],
    temperature: float,
    scale: float = 1.0,
    log_weights: torch.Tensor | None = None,
) -> tuple[float, float]:
    """Mean ab error of the model and of the grey baseline over ``val`` (turned grey as the
    evaluation does; ``bench.eval_colorize`` also smooths along L* edges, which this skips)."""
    model = AnnealedMean(net, bins, temperature, scale, log_weights).eval()
    errors, greys = [], []
    for _, rgb in val:
        lab = to_lab(rgb)
        ab = predict(model, grey_lightness(rgb))
        errors.append(float(np.mean(np.linalg.norm(ab - lab[..., 1:], axis=-1))))
        greys.append(float(np.mean(np.linalg.norm(lab[..., 1:], axis=-1))))
    return float(np.mean(errors)), float(np.mean(greys))


def export(
    net: ColorNet, bins: np.ndarray, temperature: float, scale: float, path: Path, log_weights: torch.Tensor | None = None
) -> None:
    model = AnnealedMean(net, bins, temperature, scale, log_weights).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, SIZE, SIZE),),
        str(path),
        input_names=["data_l"],
        output_names=["ab"],
        opset_version=13,
        dynamo=False,
    )


# --------------------------------------------------------------------------- starting from an exported model

FOLDED = ("enc1.0", "enc1.1", "enc2.0", "enc2.1", "enc3.0", "enc3.1", "enc3.2", "enc4.0", "enc4.1", "dec3", "dec2.2")
"""The conv + batch-norm blocks of :class:`ColorNet`, in the order of the export's folded convolutions."""


def init_from_onnx(net: ColorNet, path: Path, batch: torch.Tensor) -> None:
    """Load the weights of a model exported by :func:`export` into ``net``.

    The export folds each batch norm into its convolution (weight and bias). The folded weight goes
    back into the convolution; each batch norm is then set, in network order, from the statistics
    of its input on ``batch`` in training mode (gamma = std, beta = mean + folded bias; running
    statistics the same), so the network in training and in eval mode computes what the exported
    one does, and fine-tuning starts from it.
    """
    import onnx
    from onnx import numpy_helper

    weights = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in onnx.load(str(path)).graph.initializer}
    folded = sorted((name for name in weights if name.startswith("onnx::Conv_")), key=lambda name: int(name.rsplit("_", 1)[1]))
    if len(folded) != 2 * len(FOLDED):
        raise SystemExit(f"{path}: expected {2 * len(FOLDED)} folded convolution tensors, found {len(folded)}")
    state = net.state_dict()
    for name, tensor in weights.items():
        if name.startswith("net.") and name[4:] in state:
            state[name[4:]].copy_(tensor)
    net.load_state_dict(state)
    modules = dict(net.named_modules())
    net.train()
    for k, block in enumerate(FOLDED):
        conv, norm = modules[f"{block}.0"], modules[f"{block}.1"]
        assert isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
        conv.weight.data.copy_(weights[folded[2 * k]])
        seen: list[torch.Tensor] = []
        hook = conv.register_forward_hook(lambda _m, _i, out, seen=seen: seen.append(out.detach()))
        with torch.no_grad():
            net(batch)
        hook.remove()
        mean = seen[0].mean(dim=(0, 2, 3))
        var = seen[0].var(dim=(0, 2, 3), unbiased=False)
        norm.weight.data.copy_(torch.sqrt(var + norm.eps))
        norm.bias.data.copy_(mean + weights[folded[2 * k + 1]])
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
    log.info("initialised from %s (batch norms re-calibrated on %d samples)", path, batch.shape[0])


# --------------------------------------------------------------------------- training


def train(args: argparse.Namespace) -> None:
    spec = json.loads(LIST.read_text())
    seed = int(spec["seed"])
    torch.manual_seed(seed)
    torch.set_num_threads(args.threads)
    train_set = load_split(args.data, "train")
    val_set = load_split(args.data, "val")
    log.info("%d training photos, %d held-out photos", len(train_set), len(val_set))
    bins_np = gamut_bins()
    bins = torch.from_numpy(bins_np)
    weights = class_weights(train_set, bins)
    log.info("%d in-gamut a*b* bins", len(bins_np))
    net = ColorNet(len(bins_np))
    log.info("%.2f M parameters", sum(p.numel() for p in net.parameters()) / 1e6)
    optimiser = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=1e-5)
    step = 0
    rng = random.Random(seed)
    checkpoint = args.work / "checkpoint.pt"
    if args.init_onnx and (args.fresh or not checkpoint.exists()):
        calibration = random.Random(seed + 1)
        batch = [sample(train_set[calibration.randrange(len(train_set))][1], calibration) for _ in range(128)]
        init_from_onnx(net, args.init_onnx, torch.from_numpy(np.stack([b[0] for b in batch])[:, None]))
        net.eval()
        err, grey = evaluate(net, bins_np, val_set, 0.38)
        log.info("step 0 (from %s): held-out ab error %.2f (grey %.2f)", args.init_onnx, err, grey)
    elif checkpoint.exists() and not args.fresh:
        state = torch.load(checkpoint, weights_only=False)
        net.load_state_dict(state["net"])
        optimiser.load_state_dict(state["optimiser"])
        step = state["step"]
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed from %s at step %d", checkpoint, step)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.export_only:
        finish(net, bins_np, val_set, args.out, step, weights)
        return
    started = time.monotonic()
    net.train()
    running = 0.0
    while step < args.steps and time.monotonic() - started < args.minutes * 60:
        for group in optimiser.param_groups:  # cosine decay over the planned steps
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        batch = [sample(train_set[rng.randrange(len(train_set))][1], rng) for _ in range(BATCH)]
        x = torch.from_numpy(np.stack([b[0] for b in batch])[:, None])
        target = soft_encode(torch.from_numpy(np.stack([b[1] for b in batch])), bins)
        logits = net(x)
        pixel_weight = weights[target.argmax(dim=1)]
        loss = -(pixel_weight * (target * F.log_softmax(logits, dim=1)).sum(dim=1)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % CHECKPOINT_EVERY == 0 or step == args.steps:
            torch.save(
                {
                    "net": net.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "step": step,
                    "rng": rng.getstate(),
                    "torch_rng": torch.get_rng_state(),
                },
                checkpoint,
            )
            elapsed = time.monotonic() - started
            log.info("step %d/%d  loss %.3f  %.0f s", step, args.steps, running, elapsed)
        if step % EVALUATE_EVERY == 0:
            net.eval()
            err, grey = evaluate(net, bins_np, val_set, 0.38)
            net.train()
            log.info("step %d: held-out ab error %.2f (grey %.2f)", step, err, grey)
    finish(net, bins_np, val_set, args.out, step, weights)


def featureless() -> np.ndarray:
    """L* of a grey image with no content (:func:`retouch_testkit.synthetic.edge_image`, which the runtime's
    test also colorizes)."""
    return grey_lightness(edge_image())


def flat_std(net: ColorNet, bins: np.ndarray, temperature: float, scale: float, log_weights: torch.Tensor | None) -> float:
    """The largest per-channel std of the predicted a*b* over either half of :func:`featureless`
    (the edge's margin left out)."""
    ab = predict(AnnealedMean(net, bins, temperature, scale, log_weights).eval(), featureless())
    return max(float(half.reshape(-1, 2).std(axis=0).max()) for half in edge_halves(ab))


def finish(
    net: ColorNet, bins_np: np.ndarray, val_set: list[tuple[str, np.ndarray]], out: Path, step: int, weights: torch.Tensor
) -> None:
    """Choose the prior correction, temperature and chroma scale on the held-out photos, among the
    settings that keep a featureless image calm (:data:`FLAT_MAX_STD`), and export."""
    net.eval()
    results = {
        (t, c, alpha): evaluate(net, bins_np, val_set, t, c, alpha * torch.log(weights))
        for alpha in PRIOR_CORRECTIONS
        for t in TEMPERATURES
        for c in SCALES
    }
    flat = {(t, c, alpha): flat_std(net, bins_np, t, c, alpha * torch.log(weights)) for (t, c, alpha) in results}
    for (t, c, alpha), (err, grey) in results.items():
        log.info(
            "prior correction %.1f T=%.2f scale=%.2f: held-out ab error %.2f (grey %.2f), featureless std %.1f",
            alpha,
            t,
            c,
            err,
            grey,
            flat[t, c, alpha],
        )
    allowed = {key: err for key, (err, _) in results.items() if flat[key] <= FLAT_MAX_STD}
    lowest = min(allowed.values())
    best = max((key for key, err in allowed.items() if err <= 1.02 * lowest), key=lambda key: (key[1], -key[0], key[2]))
    export(net, bins_np, best[0], best[1], out, best[2] * torch.log(weights))
    log.info(
        "exported the model (prior correction %.1f, T=%.2f, scale %.2f, step %d) to %s", best[2], best[0], best[1], step, out
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=Path("build/colorize-data"))
    parser.add_argument("--work", type=Path, default=Path("build/colorize-train"))
    parser.add_argument("--out", type=Path, default=MODEL_OUT)
    parser.add_argument("--steps", type=int, default=1800)
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--export-only", action="store_true", help="export the checkpoint without training")
    parser.add_argument("--init-onnx", type=Path, help="start from the weights of an exported model (when not resuming)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    train(args)


if __name__ == "__main__":
    main()
