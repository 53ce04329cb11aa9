"""Claim 5: training stability and exposure bias.

Three measurements: (1) the loss curves in the shipped models' cards; (2) AR's exposure gap: the
model's own per-row NLL (bits per pixel, teacher-forced) on its free-running samples minus the
same on real test images, top half against bottom half: if errors compound, the samples' later
rows drift into states the model finds unlikely and the gap grows down the image; (3) three
short trainings per family from scratch with different seeds (the training recipes' own losses,
AdamW, no EMA: a few hundred steps, so the spread is that of early training), and the spread
of their held-out loss (and, when `seed_quality_n` > 0, of their samples' class accuracy)."""

from __future__ import annotations

import math

from desktopgen.showdown import base, figures, likelihood

ID = "stability"
TITLE = "5. Training stability and exposure bias"
CLAIM = 'Training stability: diffusion has "no exposure bias" (AR does).'
MEASURES = ("Loss curves from the cards; AR's exposure gap (per-row NLL of its own samples minus "
            "that of real images, bottom half minus top half, guidance 1, temperature 1); spread "
            "over seeds of short trainings per family (coefficient of variation of held-out loss, "
            "or standard deviation of class accuracy when measured).")
RULE = ("AR shows exposure bias if its drift (bottom-half gap minus top-half gap) is above 0.05 "
        "bits/pixel and above 2 standard errors; it shows none if drift + 2 standard errors is "
        "below 0.05. Diffusion is the steadier trainer if its spread over seeds is no larger "
        "than AR's. Holds: bias and diffusion steadier. Does not hold: no bias and AR steadier. "
        "Else mixed.")
NEEDS = "models/fmnist-pixel-ar (the exposure gap), Fashion-MNIST (short trainings)"
TINY = {"diffusion": {"channels": 32, "mults": [1, 2], "blocks": 1, "attn_res": [14]},
        "ar": {"n_layer": 2, "n_head": 2, "n_embd": 32}}
SMALL = {"diffusion": {"channels": 32, "mults": [1, 2, 2], "blocks": 1, "attn_res": [7]},
         "ar": {"n_layer": 4, "n_head": 4, "n_embd": 128}}


def exposure(ctx) -> dict | None:
    from desktopgen import engine
    from desktopgen.core.requests import SampleRequest

    found = likelihood.pixel_ar(ctx)
    if found is None:
        return None
    (spec, m), s = found, ctx.settings
    model, card = ctx.model(spec)
    ctx.progress(0.05, f"{spec.name}: {s.n} free-running samples, no guidance")
    req = SampleRequest(family="ar", sampler=spec.name, model=card.get("name", ""), guidance=1.0, seed=1)
    images, labels, _ = engine.sample_images(req, s.n, min(s.n, 100), ctx.device, model=model,
                                             on_event=ctx.on_step(0.05, 0.45, text="AR samples"))
    real = likelihood.real_row_nll(ctx)
    fake = likelihood.row_nll(m, images, labels, ctx.device)
    h = 14
    drift_r = real[:, h:].mean(1) - real[:, :h].mean(1)  # per image: bottom minus top
    drift_f = fake[:, h:].mean(1) - fake[:, :h].mean(1)
    se = math.sqrt(drift_f.var(ddof=1) / len(drift_f) + drift_r.var(ddof=1) / len(drift_r))
    return {"sampler": spec.name, "n_samples": len(images), "n_real": len(real),
            "row_nll_real": real.mean(0).tolist(), "row_nll_samples": fake.mean(0).tolist(),
            "drift": float(drift_f.mean() - drift_r.mean()), "drift_se": float(se),
            "nll_real": float(real.mean()), "nll_samples": float(fake.mean())}


def short_training(recipe, model, images, labels, steps: int, batch: int, seed: int, device,
                   check=lambda: None) -> list:
    """`steps` AdamW steps of the recipe's own loss (the one desktopgen.train uses) on random
    batches; the seed decides the initial weights and the batches. Returns the loss per step."""
    import torch

    gen = torch.Generator(device).manual_seed(seed)
    d = recipe.defaults
    opt = torch.optim.AdamW(model.parameters(), lr=d["lr"], weight_decay=d["weight_decay"])
    losses = []
    model.train()
    for _ in range(steps):
        check()  # cancel between optimiser steps
        idx = torch.randint(0, len(images), (batch,), device=device, generator=gen)
        loss = recipe.loss(model, images[idx], labels[idx], gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


def seed_runs(ctx, lo: float, hi: float) -> dict:
    """`seeds` short trainings per family from scratch; held-out loss on 256 test images each."""
    import torch

    from desktopgen import nets
    from desktopgen.train.recipes import RECIPES

    s, dev = ctx.settings, ctx.device
    arch = TINY if s.train_arch == "tiny" else SMALL
    train_x, train_y = ctx.train_set()
    limit = 4096 if s.train_arch == "tiny" else len(train_x)
    xs_train = torch.as_tensor(train_x[:limit]).to(dev)
    ys_train = torch.as_tensor(train_y[:limit]).to(dev)
    test_x, test_y = ctx.test_set()
    xs, ys = torch.as_tensor(test_x[:256]).to(dev), torch.as_tensor(test_y[:256]).to(dev)
    batch = 8 if s.train_arch == "tiny" else 128
    out = {}
    jobs = [(f, seed) for f in ("diffusion", "ar") for seed in range(s.seeds)]
    for j, (fam, seed) in enumerate(jobs):
        ctx.progress(lo + (hi - lo) * j / len(jobs), f"training {fam}, seed {seed}")
        recipe = RECIPES[fam](dev)
        torch.manual_seed(seed)
        model = nets.build(recipe.arch, arch[fam]).to(dev)
        losses = short_training(recipe, model, xs_train, ys_train, s.train_steps, batch, seed, dev,
                                ctx.check)
        model.eval()
        gen = torch.Generator(dev).manual_seed(1234)  # the same noise for every seed's model
        with torch.no_grad():
            held = float(recipe.loss(model, xs, ys, gen))
        run = {"seed": seed, "final_train_loss": losses[-1], "held_out_loss": held,
               "loss_curve": losses[:: max(1, len(losses) // 40)]}
        if s.seed_quality_n:
            run["accuracy"] = _accuracy(ctx, fam, model, s.seed_quality_n)
        out.setdefault(fam, []).append(run)
    return out


def _accuracy(ctx, family, model, n) -> float:
    from desktopgen import engine, metrics
    from desktopgen.core.requests import SampleRequest

    req = SampleRequest(family=family, seed=0)
    images, labels, _ = engine.sample_images(req, n, n, ctx.device, model=model,
                                             on_event=ctx.on_step(text="seed sample"))
    return float((metrics.classify(ctx.classifier(), images, ctx.device)[0] == labels).mean())


def spread(runs: list[dict]) -> tuple[float, str] | None:
    """(spread, what): std of accuracy if measured, else coefficient of variation of held-out loss."""
    if len(runs) < 2:
        return None
    if all("accuracy" in r for r in runs):
        vals, what = [r["accuracy"] for r in runs], "std of class accuracy"
    else:
        vals, what = [r["held_out_loss"] for r in runs], "CV of held-out loss"
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return (std if what.startswith("std") else std / abs(mean) if mean else float("inf")), what


def experiment(ctx: base.Context) -> dict:
    from desktopgen.core import checkpoints

    curves = {}
    for spec in base.runnable_samplers()[0]:
        card = checkpoints.read_card(spec.default_model)
        if card.get("loss_curve"):
            curves[spec.default_model] = {"family": spec.family, "curve": card["loss_curve"]}
    exp = exposure(ctx)
    return {"loss_curves": curves, "exposure": exp, "seeds": seed_runs(ctx, 0.5, 1.0),
            "train_steps": ctx.settings.train_steps, "train_arch": ctx.settings.train_arch}


def verdict(numbers: dict) -> tuple[str, str]:
    exp, seeds = numbers.get("exposure"), numbers.get("seeds") or {}
    sd, sa = spread(seeds.get("diffusion", [])), spread(seeds.get("ar", []))
    if exp is None or sd is None or sa is None:
        return base.needs("models/fmnist-pixel-ar for the exposure gap and two or more seed "
                          "trainings per family")
    biased = exp["drift"] > 0.05 and exp["drift"] > 2 * exp["drift_se"]
    steadier = sd[0] <= sa[0]
    shows = "exposure bias shows" if biased else "no measurable exposure bias"
    text = (f"AR's exposure drift {exp['drift']:+.3f} ± {exp['drift_se']:.3f} bits/pixel (bottom "
            f"minus top, samples minus real): {shows}; "
            f"spread over {len(seeds['ar'])} seeds ({sd[1]}, {numbers.get('train_steps')} steps): "
            f"diffusion {sd[0]:.3g}, AR {sa[0]:.3g}")
    if biased and steadier:
        return base.HOLDS, text
    unbiased = exp["drift"] + 2 * exp["drift_se"] < 0.05
    if unbiased and not steadier:
        return base.NOT_HOLD, text
    return base.MIXED, text


def figure(numbers: dict):
    fig, (ax1, ax2, ax3) = figures.new(3, width=4.2)
    for name, c in (numbers.get("loss_curves") or {}).items():
        steps, losses = zip(*c["curve"])
        ax1.plot(steps, losses, color=figures.color(c["family"]), label=name)
    ax1.set_yscale("log")
    ax1.set_xlabel("training step")
    ax1.set_ylabel("loss (card)")
    if numbers.get("loss_curves"):
        ax1.legend(fontsize=7)
    exp = numbers.get("exposure")
    if exp:
        ax2.plot(exp["row_nll_real"], color="k", label="real test images")
        ax2.plot(exp["row_nll_samples"], color=figures.color("ar"), label="AR's own samples")
        ax2.axvline(13.5, color=figures.COLORS["floor"], ls=":", lw=1)
        ax2.legend(fontsize=7)
    ax2.set_xlabel("row (top to bottom)")
    ax2.set_ylabel("AR NLL, bits per pixel")
    for k, fam in enumerate(("diffusion", "ar")):
        runs = (numbers.get("seeds") or {}).get(fam, [])
        key = "accuracy" if runs and all("accuracy" in r for r in runs) else "held_out_loss"
        vals = [r[key] for r in runs]
        if vals:
            mean = sum(vals) / len(vals)
            ax3.scatter([k] * len(vals), [v / mean for v in vals], color=figures.color(fam))
    ax3.set_xticks([0, 1], ["diffusion", "AR"])
    ax3.set_ylabel("per seed, relative to family mean")
    figures.note(ax3, f"{numbers.get('train_steps')} steps, {numbers.get('train_arch')} nets")
    return fig
