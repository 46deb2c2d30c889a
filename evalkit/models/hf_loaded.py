"""What the hf backend needs beyond loading a folder: the cache identity of a
model already in memory, LoRA adapters (peft) and named chat templates."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from evalkit.core.errors import ConfigError
from evalkit.core.types import stable_hash


def weights_sha256(model: Any) -> str:
    """sha256 over every parameter and buffer (name, dtype, shape, bytes): two
    checkpoints share cache entries only if their weights are bit-identical."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def loaded_identity(model: Any, label: str) -> dict[str, Any]:
    """Cache identity of an in-memory transformers model: its config, its
    weights' fingerprint and the user's label (never ``id()``, which the next
    checkpoint may reuse)."""
    config = model.config.to_dict() if hasattr(model.config, "to_dict") else dict(model.config)
    return {"backend": "hf", "model": label, "in_memory": True,
            "config_sha256": stable_hash(config), "weights_sha256": weights_sha256(model)}


def adapter_sha256(folder: str) -> str:
    """Content hash of a LoRA adapter folder (small: the adapter weights and config)."""
    path = Path(folder)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(path)).encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def with_adapter(model: Any, folder: str) -> Any:
    """The base model with the peft adapter in ``folder`` applied (model arg ``peft=DIR``)."""
    if not (Path(folder) / "adapter_config.json").is_file():
        raise ConfigError(f"--model-args peft={folder}: no adapter_config.json there; give a peft adapter folder")
    try:
        from peft import PeftModel
    except ImportError:
        raise ConfigError("--model-args peft=... needs the peft package: pip install 'evalkit[hf]'") from None
    return PeftModel.from_pretrained(model, folder).eval()


def resolve_chat_template(tok: Any, name: str) -> str:
    """The template text for ``--chat-template NAME``: a named template of the
    tokenizer (tokenizers can carry several, e.g. ``default``, ``tool_use``), or a jinja file."""
    templates = getattr(tok, "chat_template", None)
    if isinstance(templates, dict) and name in templates:
        return templates[name]
    path = Path(name).expanduser()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if not isinstance(templates, dict) and name == "default" and templates:
        return templates
    known = sorted(templates) if isinstance(templates, dict) else (["default"] if templates else [])
    raise ConfigError(f"--chat-template {name}: the tokenizer has no template of that name "
                      f"(it has: {', '.join(known) or 'none'}) and no such file exists")
