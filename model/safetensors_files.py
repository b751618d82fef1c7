"""
Safetensors files as the Hugging Face layout stores them: writing a header and a tensor's bytes in
float32, float16 or bfloat16, and reading a checkpoint folder's tensors back (one file, or the
shards its index names) as float32.
"""

import json
import math
import struct
from pathlib import Path

import numpy as np
import torch

DTYPES = {"float32": ("F32", torch.float32), "float16": ("F16", torch.float16), "bfloat16": ("BF16", torch.bfloat16)}
STORAGE = {"F32": "<f4", "F16": "<f2", "BF16": "<i2"}  # a dtype's bytes in numpy; bfloat16 as raw 16-bit words


def safetensors_header(specs: list, code: str) -> bytes:
    """8-byte little-endian length, then the JSON header (padded to 8 bytes with spaces, as the
    safetensors library does); data offsets count from the end of the header, tensors packed in order."""
    itemsize = np.dtype(STORAGE[code]).itemsize
    header, offset = {}, 0
    for name, shape in specs:
        end = offset + math.prod(shape) * itemsize
        header[name] = {"dtype": code, "shape": list(shape), "data_offsets": [offset, end]}
        offset = end
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def tensor_bytes(tensor: torch.Tensor, dtype: str) -> bytes:
    code, torch_dtype = DTYPES[dtype]
    rounded = tensor.detach().to(torch_dtype).contiguous()
    words = rounded.view(torch.int16) if code == "BF16" else rounded  # numpy has no bfloat16
    return words.numpy().astype(STORAGE[code]).tobytes()


def read_safetensors(path: Path) -> dict:
    """name -> float32 tensor of one safetensors file (float32 data stays mapped, not copied)."""
    data = np.memmap(path, dtype=np.uint8, mode="c")
    (length,) = struct.unpack("<Q", data[:8].tobytes())
    header = json.loads(data[8:8 + length].tobytes())
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        begin, end = (8 + length + offset for offset in entry["data_offsets"])
        if entry["dtype"] not in STORAGE:
            raise ValueError(f"{path}: tensor {name} has dtype {entry['dtype']!r}; expected one of {sorted(STORAGE)}")
        if end > len(data):
            raise ValueError(f"{path}: tensor {name} ends at byte {end}, past the end of the file ({len(data)} bytes)")
        array = torch.from_numpy(data[begin:end].view(STORAGE[entry["dtype"]]).reshape(entry["shape"]))
        tensors[name] = array.view(torch.bfloat16).float() if entry["dtype"] == "BF16" else array.float()
    return tensors


def read_weights(folder: Path) -> dict:
    """Every tensor of a checkpoint folder: model.safetensors, or the shards its index names."""
    index = folder / "model.safetensors.index.json"
    if not index.exists():
        return read_safetensors(folder / "model.safetensors")
    tensors = {}
    for file in sorted(set(json.loads(index.read_text())["weight_map"].values())):
        tensors.update(read_safetensors(folder / file))
    return tensors
