#!/usr/bin/env python3
"""PyTorch eager reference for `compmod bench`: the same small CNN, heads, losses, batch and
thread count, one training step timed per method. Prints one JSON object on stdout.

    python3 bench/torch_ref.py --batch 128 --image-size 28 --width 16 --steps 10 --warmup 3 --threads 2
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def small_cnn(c_in, w):
    layers, cin = [], c_in
    for cout, stride in [(w, 1), (2 * w, 2), (4 * w, 2), (4 * w, 2)]:
        layers += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, o))


def nt_xent(z1, z2, t):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z.shape[0]
    logits = z @ z.T / t
    logits = logits.masked_fill(torch.eye(n, dtype=torch.bool), -1e9)
    target = torch.arange(n).roll(n // 2)
    return F.cross_entropy(logits, target)


def byol_loss(p1, p2, t1, t2):
    def term(p, t):
        return (2 - 2 * (F.normalize(p, dim=1) * F.normalize(t.detach(), dim=1)).sum(1)).mean()
    return term(p1, t2) + term(p2, t1)


def barlow(z1, z2, lam=0.0051, scale=0.1):
    m = z1.shape[0]
    a = (z1 - z1.mean(0)) / torch.sqrt(z1.var(0, unbiased=False) + 1e-5)
    b = (z2 - z2.mean(0)) / torch.sqrt(z2.var(0, unbiased=False) + 1e-5)
    c = a.T @ b / m
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return scale * (on + lam * off)


def main():
    ap = argparse.ArgumentParser()
    for k, v in [("batch", 128), ("image-size", 28), ("width", 16), ("steps", 10), ("warmup", 3), ("threads", 2), ("channels", 1)]:
        ap.add_argument(f"--{k}", type=int, default=v)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    x1 = torch.randn(a.batch, a.channels, a.image_size, a.image_size)
    x2 = torch.randn(a.batch, a.channels, a.image_size, a.image_size)
    d = 4 * a.width
    for method in ["simclr", "byol", "barlow"]:
        backbone, proj = small_cnn(a.channels, a.width), mlp(d, 512, 128)
        pred = mlp(128, 512, 128) if method == "byol" else None
        params = list(backbone.parameters()) + list(proj.parameters()) + (list(pred.parameters()) if pred else [])
        opt = torch.optim.SGD(params, lr=0.15, momentum=0.9, weight_decay=5e-4)
        if method == "byol":
            import copy
            tb, tp = copy.deepcopy(backbone), copy.deepcopy(proj)

        def step():
            z1, z2 = proj(backbone(x1)), proj(backbone(x2))
            if method == "simclr":
                loss = nt_xent(z1, z2, 0.2)
            elif method == "barlow":
                loss = barlow(z1, z2)
            else:
                with torch.no_grad():
                    t1, t2 = tp(tb(x1)), tp(tb(x2))
                loss = byol_loss(pred(z1), pred(z2), t1, t2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if method == "byol":
                with torch.no_grad():
                    for o, t in zip(list(backbone.parameters()) + list(proj.parameters()), list(tb.parameters()) + list(tp.parameters())):
                        t.mul_(0.99).add_(o, alpha=0.01)

        for _ in range(a.warmup):
            step()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        out[method] = a.batch * a.steps / (time.perf_counter() - t0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
