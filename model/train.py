"""
Trains a DiffTransformer or its matched baseline on a corpus folder (model/corpus.py), nanoGPT
style, on CPU or GPU. Resumable: it checkpoints every --checkpoint-every steps and when stopped
(SIGINT/SIGTERM), and `--resume` continues from the checkpoint with the same data order.

    scripts/python.sh -m model.train --kind diff --data data/corpus --tokenizer data/tokenizer.json \\
        --out runs/diff --max-minutes 75

Both kinds draw the same batches (the batch at step s depends only on --seed and s), so a DIFF
model and its baseline see the same tokens in the same order.
"""

import argparse
import json
import math
import signal
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from model.allocator import keep_freed_memory_mapped
from model.data import Batches, Mix, batch_at, corpus_tokens, natural_documents
from model.model import ModelConfig, Transformer
from model.package import load_checkpoint, load_package, save_checkpoint
from model.probes import NeedleProbe, eval_mode, induction_score
from model.retrieval_scoring import lengths_up_to
from model.tokenizer import ByteLevelBPE

EVAL_SEED = 0  # validation windows are the same at every evaluation and for both kinds


STOPPED_EARLY = 75  # exit status of a run stopped before its last step (EX_TEMPFAIL)


def parse_windows(text: str) -> list[tuple[int, float]]:
    """'256,512@0.7,1024@0.85' -> [(256, 0.0), (512, 0.7), (1024, 0.85)]: each window length and the
    fraction of the run's steps from which it is used."""
    windows = []
    for i, item in enumerate(text.split(",")):
        length, _, start = item.partition("@")
        windows.append((int(length), float(start) if start else 0.0))
        if (i == 0) != (windows[-1][1] == 0.0) or (i and windows[-1][1] <= windows[-2][1]):
            raise ValueError(f"--windows: expected LENGTH,LENGTH@FRACTION,... with rising fractions after the first; got {text!r}")
    return windows


def window(step: int, args) -> tuple:
    """(window length, rows) for a step: every step has the same tokens, in fewer rows when longer."""
    length = [length for length, start in args.windows if step >= start * args.steps][-1]
    first = args.windows[0][0]
    return length, max(1, args.batch_size * first // length)


def progress(training: dict, total_steps: int) -> str:
    """How far a run is, for a person watching train.out."""
    step, seconds = training["step"], training["seconds"]
    left = (total_steps - step) * seconds / max(1, step)
    return (f"step {step} of {total_steps} ({100 * step / total_steps:.0f}%), {training['tokens'] / 1e6:.1f}M tokens, "
            f"{seconds / 60:.0f} min so far, about {left / 60:.0f} min to go at this pace")


def first_decay_step(total: int, decay_fraction: float) -> int:
    """The first step whose learning rate is below the peak."""
    return math.ceil(total * (1 - decay_fraction))


def learning_rate(step: int, total: int, peak: float, warmup: int, decay_fraction: float) -> float:
    """Warmup, stable, decay: linear warmup, the peak while new circuits still form, then a cosine
    decay to 10% of the peak over the last ``decay_fraction`` of the steps. A run can be extended
    (more --steps) without redoing a decay as long as it has not begun."""
    if step < warmup:
        return peak * (step + 1) / warmup
    decay_start = first_decay_step(total, decay_fraction)
    if step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start) / max(1, total - decay_start))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(model, data: np.ndarray, seq_len: int, batches: int, batch_size: int, autocast) -> float:
    """Mean next-token loss over fixed windows of a validation set."""
    losses = []
    with eval_mode(model):
        for b in range(batches):
            x, y = batch_at(data, b, batch_size, seq_len, seed=EVAL_SEED)
            with autocast():
                losses.append(model(x, y)[1].item())
    return float(np.mean(losses))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=["diff", "baseline"], required=True)
    p.add_argument("--data", type=Path, required=True, help="corpus folder with train.txt, val_code.txt, val_prose.txt")
    p.add_argument("--tokenizer", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt and log.jsonl")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init-from", type=Path, default=None,
                   help="a model package whose weights start a new run (at this run's --context; a fresh optimizer)")
    p.add_argument("--n-layer", type=int, default=6)
    p.add_argument("--n-head", type=int, default=4, help="differential heads (the baseline gets twice as many)")
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--context", type=int, default=1024, help="the model's context (max_seq_len)")
    p.add_argument("--windows", type=parse_windows, default=parse_windows("256"),
                   help="training window lengths and the fraction of --steps from which each is used, e.g. "
                        "256,512@0.7,1024@0.85 (same tokens per step: fewer, longer rows); attention costs grow "
                        "with the square of the window, so most steps use short ones. Held-out loss uses the first")
    p.add_argument("--batch-size", type=int, default=16, help="rows per step at the first window length")
    p.add_argument("--mix", type=Mix.parse, default=Mix(),
                   help="shares of rewritten rows (model/data.py), e.g. span_copy=0.25,random_copy=0.25,needles=0.25")
    p.add_argument("--steps", type=int, default=2000, help="total optimizer steps (sets the schedule)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and checkpoint) after this long")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--decay-fraction", type=float, default=0.2, help="the last share of steps over which the lr decays")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CPU and GPU)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--eval-batches", type=int, default=8)
    p.add_argument("--no-probes", dest="probes", action="store_false",
                   help="skip the induction and needle probes at evaluation steps")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--tokenize-only", action="store_true", help="write the token caches and stop")
    args = p.parse_args(argv)

    keep_freed_memory_mapped()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer = ByteLevelBPE.load(args.tokenizer)
    train = corpus_tokens(args.data, "train", tokenizer)
    val = {name: corpus_tokens(args.data, f"val_{name}", tokenizer) for name in ("code", "prose")}
    if args.tokenize_only:
        return

    checkpoint_path = args.out / "checkpoint.pt"
    if args.resume and checkpoint_path.exists():
        model, ckpt = load_checkpoint(checkpoint_path)
        training = ckpt["training"]
        step = training["step"]
    else:
        torch.manual_seed(args.seed)
        if args.init_from:
            # RoPE has no table of positions: the same weights run at a longer context as they are.
            package_model = load_package(args.init_from)[0]
            cfg = ModelConfig.from_dict({**package_model.cfg.to_dict(), "max_seq_len": args.context})
            model = Transformer(cfg)
            model.load_state_dict(package_model.state_dict())
        else:
            cfg = ModelConfig(kind=args.kind, vocab_size=tokenizer.vocab_size, n_layer=args.n_layer, n_head=args.n_head,
                              n_embd=args.n_embd, max_seq_len=args.context)
            model = Transformer(cfg)
        ckpt, step = None, 0
        training = {"step": 0, "tokens": 0, "seconds": 0.0, "args": {k: str(v) for k, v in vars(args).items()},
                    "train_tokens_available": int(len(train)), "parameters": model.num_params()}
    model.to(args.device).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    if ckpt and "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    autocast = (lambda: torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16)) if args.bf16 else nullcontext

    stop = {"requested": False}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.update(requested=True))
    def checkpoint(path=checkpoint_path):
        save_checkpoint(path, model, training, {"optimizer": optimizer.state_dict()})
    # The last step before the learning rate decays: a copy of the run there can be trained on for
    # more steps at the peak rate (resume it with a larger --steps), which a decayed run cannot.
    decay_start = first_decay_step(args.steps, args.decay_fraction)

    batches = Batches(train, tokenizer, natural_documents(args.data), args.mix, args.seed)
    needle_probe = NeedleProbe(tokenizer, args.data, args.context, tuple(lengths_up_to(args.context))) if args.probes else None
    started = time.time() - training["seconds"]
    print(f"{args.kind}: {model.num_params():,} parameters, {len(train):,} training tokens, from step {step} of {args.steps}")
    log = open(args.out / "log.jsonl", "a")
    while step < args.steps and not stop["requested"]:
        if args.max_minutes and (time.time() - started) / 60 >= args.max_minutes:
            break
        lr = learning_rate(step, args.steps, args.lr, args.warmup, args.decay_fraction)
        for group in optimizer.param_groups:
            group["lr"] = lr
        seq_len, batch_size = window(step, args)
        # Past 1,024 tokens the T x T maps of six layers outgrow the memory: keep each layer's input
        # only and recompute the layer in the backward pass.
        model.recompute_layers = seq_len > 1024
        x, y = batches(step, batch_size, seq_len)
        with autocast():
            loss = model(x.to(args.device), y.to(args.device))[1]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        training.update(step=step, tokens=training["tokens"] + x.numel(), seconds=time.time() - started)
        training["last_train_loss"] = loss.item()
        record = {"step": step, "tokens": training["tokens"], "loss": training["last_train_loss"], "lr": lr,
                  "seq_len": seq_len, "seconds": round(training["seconds"], 1)}
        if step % args.eval_every == 0 or step == args.steps:
            for name, data in val.items():
                record[f"val_{name}"] = evaluate(model, data, args.windows[0][0], args.eval_batches, args.batch_size, autocast)
            if needle_probe:
                with autocast():
                    record["induction"] = induction_score(model, tokenizer)
                    record.update(needle_probe.accuracy(model))
            training["val"] = {k: v for k, v in record.items() if k.startswith(("val_", "induction", "needle"))}
            print(json.dumps(record), flush=True)
            print(progress(training, args.steps), flush=True)
        log.write(json.dumps(record) + "\n")
        log.flush()
        if step % args.checkpoint_every == 0:
            checkpoint()
        if step == decay_start:
            checkpoint(args.out / "before-decay.pt")
    log.close()
    checkpoint()
    print(f"stopped at step {step} after {training['seconds'] / 60:.1f} min; checkpoint {checkpoint_path}")
    if step < args.steps:
        # Non-zero so that a script does not export an unfinished model as if it were done.
        print(f"the run is unfinished ({step} of {args.steps} steps): run again with --resume to continue")
        raise SystemExit(STOPPED_EARLY)


if __name__ == "__main__":
    main()
