"""
Causal attention over blocks of query rows, as the model (model/model.py) trains, evaluates and
exports it: each block reads only the keys up to its last row, so no (T, T) tensor is held and the
upper triangle the causal mask empties is never computed. The block size comes from
shared/attention.json, which the TypeScript importer and the engine's analyses read too.
"""

import json
from pathlib import Path
from typing import List

import torch


def causal_bias(rows: int, keys: int, first_row: int, device: torch.device):
    """(rows, keys) additive mask: -inf where key j lies after query row first_row + i."""
    return torch.full((rows, keys), float("-inf"), device=device).triu(first_row + 1)


def attend(probs, values, pairs: bool):
    """probs (B, S, Tq, Tk) @ values: (B, S, Tk, w) gives (B, S, Tq, w); with pairs, DIFF V1's sub-heads
    (2h, 2h+1) both read head h's values (B, H, Tk, w), giving (B, H, 2, Tq, w) in one broadcast matmul."""
    if pairs:
        return torch.matmul(probs.view(probs.shape[0], -1, 2, probs.shape[2], probs.shape[3]), values[:, :, None])
    return torch.matmul(probs, values)


# Query rows per block: the tile budget shared with the TypeScript importer (shared/attention.json).
_BLOCKS = json.loads((Path(__file__).resolve().parents[1] / "shared" / "attention.json").read_text())
TILE_ELEMENTS, MIN_ROWS, MAX_ROWS = _BLOCKS["tile_elements"], _BLOCKS["min_rows"], _BLOCKS["max_rows"]


def block_rows(sub_heads: int, length: int, tile: int = TILE_ELEMENTS, least: int = MIN_ROWS, most: int = MAX_ROWS) -> int:
    """Query rows per block of causal_attention, so that one block's scores stay near TILE_ELEMENTS.
    (The limits are default arguments because TorchScript takes no global variables.)"""
    return max(least, min(most, tile // (sub_heads * length)))


def causal_attention(q: torch.Tensor, k: torch.Tensor, values: torch.Tensor, scale: float, pairs: bool) -> torch.Tensor:
    """attend(softmax(q k^T * scale + causal mask), values) computed over blocks of query rows (as many
    as block_rows gives, chosen from T at run time, also in the exported graph), each reading only the
    keys up to its last row: no (T, T) tensor is held, and the upper triangle the mask empties is never
    computed. q, k: (B, S, T, d)."""
    T = q.size(2)
    rows = block_rows(q.size(1), T)
    blocks: List[torch.Tensor] = []
    for start in range(0, T, rows):
        end = min(start + rows, T)
        logits = torch.matmul(q[:, :, start:end], k[:, :, :end].transpose(-1, -2)) * scale
        probs = torch.softmax(logits.float() + causal_bias(end - start, end, start, q.device), dim=-1).type_as(q)
        blocks.append(attend(probs, values[:, :, :end], pairs))
    return torch.cat(blocks, dim=-2)


# The export traces the model; scripting keeps the loop over blocks a loop (an ONNX Loop, its length
# chosen from T at run time) instead of unrolling it for the example's length. Eager runs and
# training use the plain function: TorchScript's executor changes what autograd saves after the first
# calls, which breaks recomputing a layer in the backward pass (Transformer.recompute_layers).
exportable_causal_attention = torch.jit.script(causal_attention)
