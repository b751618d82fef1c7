"""
Model packages and checkpoints: writing a package atomically, reading one back into PyTorch, and
validating that weights, config and tokenizer agree. The format is described in
docs/model-package.md.
"""

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Optional

import numpy as np
import onnx
import torch
from onnx import external_data_helper, numpy_helper

from model.contributions import export_contributions
from model.export import OPTIONAL_OUTPUTS, export_lens, export_onnx, intervention_inputs
from model.model import ModelConfig, Transformer, lambda_init_for
from model.tokenizer import ByteLevelBPE

FORMAT_VERSION = 1
PACKAGE_FILES = ("model.onnx", "tokenizer.json", "config.json")
LENS_FILE = "lens.onnx"  # the logit lens (export.LogitLens); packages exported before it have none
CONTRIBUTIONS_FILE = "contributions.onnx"  # contributions.ContributionsGraph; packages exported before it have none
WEIGHTS_FILE = "weights.bin"  # the graphs' weights, each stored once (ONNX external data); older packages embed them
SHARED_BYTES = 1024  # smaller initializers (shapes, scales) stay inside their graph
WEIGHT_ALIGNMENT = 64
CHECKPOINT_FORMAT = "difftransformer-checkpoint"
PARAM_MAP_KEY = "parameter_initializers"  # ONNX metadata: parameter name -> initializer name
GRAPH_PREFIX = "model."  # export wraps the Transformer as InspectionGraph.model


class PackageError(ValueError):
    """A checkpoint, package or tokenizer that cannot be used; the message names the file and field."""


# ---------------------------------------------------------------------------------------------
# Validation


def implied_config(state_dict: dict) -> dict:
    """The config values the weights themselves imply, with the evidence for each."""
    implied = {}
    emb = state_dict.get("tok_emb.weight")
    if emb is None:
        raise PackageError("the weights have no 'tok_emb.weight' (token embedding); is this a model of this project?")
    implied["vocab_size"] = (emb.shape[0], "tok_emb.weight has %d rows" % emb.shape[0])
    implied["n_embd"] = (emb.shape[1], "tok_emb.weight has %d columns" % emb.shape[1])
    layer_ids = {int(m.group(1)) for key in state_dict for m in [re.match(r"layers\.(\d+)\.", key)] if m}
    implied["n_layer"] = (len(layer_ids), "weights for %d layers" % len(layer_ids))
    is_v2 = "layers.0.attn.lambda_proj.weight" in state_dict
    is_diff = is_v2 or "layers.0.attn.lambda_q1" in state_dict
    implied["kind"] = ("diff" if is_diff else "baseline", "lambda weights %s" % ("present" if is_diff else "absent"))
    if is_v2:
        heads = state_dict["layers.0.attn.lambda_proj.weight"].shape[0]
        implied["n_head"] = (heads, "layers.0.attn.lambda_proj.weight has %d rows, one per head" % heads)
    elif is_diff:
        d = state_dict["layers.0.attn.lambda_q1"].shape[0]
        implied["n_head"] = (emb.shape[1] // (2 * d), "layers.0.attn.lambda_q1 has %d = n_embd / n_head / 2 entries" % d)
    if is_diff:
        implied["variant"] = ("v2" if is_v2 else "v1", "lambda_proj %s" % ("present" if is_v2 else "absent"))
    return implied


def check_weights(cfg: ModelConfig, state_dict: dict, source: str) -> None:
    """Raises PackageError naming each config field the weights disagree with, then each tensor."""
    problems = [
        f"config.{field} is {getattr(cfg, field)!r} but the weights imply {value!r} ({evidence})"
        for field, (value, evidence) in implied_config(state_dict).items()
        if getattr(cfg, field) != value
    ]
    if not problems:
        expected = Transformer(cfg).state_dict()
        problems += [f"missing weight '{k}'" for k in expected if k not in state_dict]
        problems += [f"unexpected weight '{k}'" for k in state_dict if k not in expected]
        problems += [
            f"weight '{k}' has shape {list(state_dict[k].shape)}; the config expects {list(v.shape)}"
            for k, v in expected.items()
            if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
        ]
    if problems:
        raise PackageError(f"{source}: the config and the weights disagree:\n  " + "\n  ".join(problems))


def check_tokenizer(cfg: ModelConfig, tokenizer: ByteLevelBPE, source: str) -> None:
    if tokenizer.vocab_size != cfg.vocab_size:
        raise PackageError(
            f"{source}: the tokenizer has {tokenizer.vocab_size} tokens but config.vocab_size is {cfg.vocab_size}; "
            "export with the tokenizer the model was trained with"
        )


def load_tokenizer(path: Path) -> ByteLevelBPE:
    try:
        return ByteLevelBPE.load(path)
    except (OSError, ValueError) as err:
        raise PackageError(f"{path}: not a usable tokenizer.json: {err}") from err


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(path: Path, model: Transformer, training: dict, extra: Optional[dict] = None) -> None:
    """Writes atomically (temporary file, then rename), so an interrupted save keeps the old one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "config": model.cfg.to_dict(), "model": model.state_dict(),
                "training": training, **(extra or {})}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path):
    """Returns (model, checkpoint dict) after checking the config against the weights."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu")
    except FileNotFoundError as err:
        raise PackageError(f"{path}: no such checkpoint file") from err
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise PackageError(f"{path}: not a readable PyTorch checkpoint (truncated or corrupt?): {err}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise PackageError(f"{path}: field 'format' should be {CHECKPOINT_FORMAT!r}; this is not a checkpoint of this project")
    try:
        cfg = ModelConfig.from_dict(ckpt["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise PackageError(f"{path}: field 'config' is invalid: {err}") from err
    check_weights(cfg, ckpt["model"], str(path))
    model = Transformer(cfg)
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


# ---------------------------------------------------------------------------------------------
# Packages


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_config(model: Transformer, name: str, outputs: list, top_k: int, bos_id: int, training: dict) -> dict:
    cfg = model.cfg
    diff = cfg.kind == "diff"
    if not diff:
        lambdas = None
    elif cfg.is_v2:  # lambda per token and head, computed by the graph: nothing to list per layer
        lambdas = {"granularity": "token", "init": [], "value": []}
    else:
        lambdas = {"granularity": "layer", "init": [lambda_init_for(i) for i in range(cfg.n_layer)], "value": model.lambdas()}
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "kind": cfg.kind,
        "variant": cfg.variant if diff else "standard",
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head if diff else cfg.n_softmax_heads,
        "n_softmax_heads": cfg.n_softmax_heads,
        "n_kv_softmax_heads": cfg.n_kv_softmax_heads,
        "head_dim": cfg.head_dim,
        "value_head_dim": 2 * cfg.head_dim if diff and not cfg.is_v2 else cfg.head_dim,
        "n_embd": cfg.n_embd,
        "vocab_size": cfg.vocab_size,
        "max_seq_len": cfg.max_seq_len,
        "attention_scale": cfg.head_dim ** -0.5,
        "rope": {"theta": cfg.rope_theta, "interleaved": True, "rotary_dim": cfg.head_dim},
        "pairing": "adjacent" if diff else None,
        "lambda": lambdas,
        "bos_token_id": bos_id,
        "top_k": top_k,
        "outputs": outputs,
        "optional_outputs": [o for o in outputs if o in OPTIONAL_OUTPUTS],
        # The graph's intervention inputs, each (n_layer, n_head), and the value that changes nothing.
        "intervention_inputs": {name: float(value.flatten()[0]) for name, value in intervention_inputs(model).items()},
        # Attention runs over blocks of query rows (model/blocked_attention.py): memory linear in T.
        "attention": "blocked",
        "parameters": model.num_params(),
        "model_config": cfg.to_dict(),
        "training": training,
    }


def record_parameter_map(onnx_path: Path, model: Transformer) -> None:
    """Stores which initializer holds each parameter. The exporter merges initializers with equal
    values (fresh RMSNorm weights are all ones), so names alone cannot find every parameter."""
    graph = onnx.load(str(onnx_path))
    by_name = {init.name: init for init in graph.graph.initializer}
    by_value = {}
    for init in graph.graph.initializer:
        array = numpy_helper.to_array(init)
        by_value.setdefault((array.shape, array.tobytes()), init.name)
    mapping = {}
    for name, tensor in model.state_dict().items():
        graph_name = GRAPH_PREFIX + name
        if graph_name not in by_name:
            array = tensor.detach().cpu().numpy()
            graph_name = by_value.get((array.shape, array.tobytes()))
            if graph_name is None:
                raise RuntimeError(f"export lost parameter {name!r}: no initializer holds its value")
        mapping[name] = graph_name
    entry = graph.metadata_props.add()
    entry.key, entry.value = PARAM_MAP_KEY, json.dumps(mapping, sort_keys=True)
    onnx.save(graph, str(onnx_path))


def share_weights(folder: Path, graphs: tuple) -> None:
    """Moves the graphs' initializers into one weights.bin that each graph refers to (ONNX external
    data), storing equal tensors once: the lens and the contributions graph read the embedding, the
    head and the projections the inspection graph holds, which embedded would be a second and third
    copy of most of the model in the package and in memory once each graph is opened."""
    stored = {}
    with open(folder / WEIGHTS_FILE, "wb") as weights:
        for name in graphs:
            graph = onnx.load(str(folder / name))
            for tensor in graph.graph.initializer:
                array = numpy_helper.to_array(tensor)
                if array.nbytes < SHARED_BYTES:
                    continue
                raw = array.tobytes()
                key = (tensor.data_type, array.shape, hashlib.sha256(raw).digest())
                if key not in stored:
                    weights.write(bytes(-weights.tell() % WEIGHT_ALIGNMENT))
                    stored[key] = weights.tell()
                    weights.write(raw)
                tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))  # its bytes as raw_data
                external_data_helper.set_external_data(tensor, WEIGHTS_FILE, stored[key], len(raw))
                tensor.ClearField("raw_data")
            onnx.save(graph, str(folder / name))


def write_package(model: Transformer, tokenizer_path: Path, out_dir: Path, *, name: str,
                  training: dict, top_k: int = 10) -> Path:
    """Exports model + tokenizer as a package folder. Builds it in a temporary sibling folder and
    renames it into place, so a failed export leaves nothing behind (and an old package intact)."""
    out_dir = Path(out_dir)
    tokenizer = load_tokenizer(Path(tokenizer_path))
    check_tokenizer(model.cfg, tokenizer, str(tokenizer_path))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        outputs = export_onnx(model, tmp / "model.onnx", top_k)
        record_parameter_map(tmp / "model.onnx", model)
        export_lens(model, tmp / LENS_FILE, top_k)
        export_contributions(model, tmp / CONTRIBUTIONS_FILE)
        share_weights(tmp, ("model.onnx", LENS_FILE, CONTRIBUTIONS_FILE))
        shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
        config = package_config(model, name, outputs, top_k, tokenizer.eot_id, training)
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        manifest = {
            "format_version": FORMAT_VERSION,
            "files": {f: {"sha256": sha256_file(tmp / f), "bytes": (tmp / f).stat().st_size} for f in (*PACKAGE_FILES, LENS_FILE, CONTRIBUTIONS_FILE, WEIGHTS_FILE)},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex}.old")
            os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as err:
        raise PackageError(f"{path}: missing; a model package needs {what}") from err
    except json.JSONDecodeError as err:
        raise PackageError(f"{path}: not valid JSON ({err})") from err


def verify_manifest(pkg: Path) -> dict:
    manifest = read_json(pkg / "manifest.json", "manifest.json with the sha256 of each file")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise PackageError(f"{pkg / 'manifest.json'}: field 'format_version' is {manifest.get('format_version')!r}; "
                           f"this version reads {FORMAT_VERSION}")
    files = manifest.get("files", {})
    for f in PACKAGE_FILES:
        if f not in files:
            raise PackageError(f"{pkg / 'manifest.json'}: field 'files' has no entry for {f}")
    for f in files:
        if not (pkg / f).exists():
            raise PackageError(f"{pkg / f}: missing (listed in manifest.json)")
        actual = sha256_file(pkg / f)
        if actual != files[f]["sha256"]:
            raise PackageError(f"{pkg / f}: sha256 is {actual} but manifest.json says {files[f]['sha256']}; "
                               "the file was changed or damaged after export")
    return manifest


def load_package(pkg: Path):
    """Reads a package back into PyTorch: returns (model, config dict, tokenizer)."""
    pkg = Path(pkg)
    verify_manifest(pkg)
    config = read_json(pkg / "config.json", "config.json")
    try:
        cfg = ModelConfig.from_dict(config["model_config"])
    except (KeyError, TypeError, ValueError) as err:
        raise PackageError(f"{pkg / 'config.json'}: field 'model_config' is invalid: {err}") from err
    graph = onnx.load(str(pkg / "model.onnx"))
    meta = {p.key: p.value for p in graph.metadata_props}
    if PARAM_MAP_KEY not in meta:
        raise PackageError(f"{pkg / 'model.onnx'}: metadata '{PARAM_MAP_KEY}' is missing; re-export the package")
    initializers = {init.name: init for init in graph.graph.initializer}
    state_dict = {
        name: torch.from_numpy(np.array(numpy_helper.to_array(initializers[graph_name])))
        for name, graph_name in json.loads(meta[PARAM_MAP_KEY]).items()
    }
    check_weights(cfg, state_dict, str(pkg / "model.onnx"))
    tokenizer = load_tokenizer(pkg / "tokenizer.json")
    check_tokenizer(cfg, tokenizer, str(pkg / "tokenizer.json"))
    model = Transformer(cfg)
    model.load_state_dict(state_dict)
    return model.eval(), config, tokenizer
