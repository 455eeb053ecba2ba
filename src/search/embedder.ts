/**
 * The sentence embedder: all-MiniLM-L6-v2 through transformers.js + ONNX Runtime, loaded once
 * from MODEL_DIR (never from the network) and used by the search worker for both pages and
 * queries. Vectors are the mean of the last hidden state over real tokens, L2-normalised
 * (sentence-transformers' pooling for this model), 384 floats each.
 *
 * Memory, not speed, decides the shape of a batch: self-attention holds
 * batch × 12 heads × length² floats per layer, so `embed` sorts its texts by token count and runs
 * them in sub-batches of at most `maxBatchTokens` padded tokens. Measured with ~190-token chunks
 * (scripts/bench/embedding.ts, 2 shared cores): peak RSS 224–236 MiB at 512 tokens per run
 * against 290–448 MiB at 8,192, at the same chunks/s. One intra-op thread: a second gained
 * nothing there, and the worker shares the machine with the server and Otterwiki.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  AutoModel,
  AutoTokenizer,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  Tensor,
} from "@huggingface/transformers";
import {
  MODEL_NAME,
  type ModelDtype,
  modelFiles,
  ONNX_MODEL_FILES,
  sha256File,
} from "./model-files.ts";

export const EMBEDDING_DIMENSIONS = 384;
/** The model was trained on sequences of at most 256 word pieces ([CLS] and [SEP] included). */
export const MAX_TOKENS = 256;

export class EmbedderError extends Error {
  override name = "EmbedderError";
}

export interface EmbedderOptions {
  /** MODEL_DIR: the folder that holds `all-MiniLM-L6-v2/`. */
  modelDir: string;
  dtype: ModelDtype;
  /** ONNX Runtime intra-op threads (the worker should leave cores to the server). */
  threads?: number;
  /** ONNX Runtime's CPU memory arena (on by default; see the session options below). */
  arena?: boolean;
  /** Largest sub-batch in padded tokens (texts × longest text). */
  maxBatchTokens?: number;
  /** Check every file against its pinned SHA-256 first (about 0.1 s for fp32). */
  verify?: boolean;
}

export interface Embedder {
  readonly dtype: ModelDtype;
  /** One unit vector per text, in order; texts are cut at MAX_TOKENS. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** Tokens the model would see for `text` untruncated, [CLS] and [SEP] included. */
  countTokens(text: string): number;
  dispose(): Promise<void>;
}

const DEFAULT_THREADS = 1;
const DEFAULT_MAX_BATCH_TOKENS = 2 * MAX_TOKENS;

export async function loadEmbedder(options: EmbedderOptions): Promise<Embedder> {
  const folder = join(options.modelDir, MODEL_NAME);
  const files = modelFiles([options.dtype]);
  const missing = files.filter((file) => !existsSync(join(folder, file.path)));
  if (missing.length > 0) {
    throw new EmbedderError(
      `the ${options.dtype} embedding model is incomplete in ${folder} (missing ${missing.map((f) => f.path).join(", ")}): run \`bun run setup\` or set MODEL_DIR to a folder it filled`,
    );
  }
  if (options.verify !== false) {
    for (const file of files) {
      if ((await sha256File(join(folder, file.path))) !== file.sha256) {
        throw new EmbedderError(
          `${join(folder, file.path)} does not match its pinned SHA-256 (damaged or replaced): delete ${folder} and run \`bun run setup\``,
        );
      }
    }
  }

  // Global to transformers.js; this module is the only user, and only ever local files.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  env.localModelPath = options.modelDir;
  const threads = options.threads ?? DEFAULT_THREADS;
  let tokenizer: PreTrainedTokenizer;
  let model: PreTrainedModel;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(MODEL_NAME, { local_files_only: true });
    model = await AutoModel.from_pretrained(MODEL_NAME, {
      dtype: options.dtype,
      local_files_only: true,
      use_external_data_format: ONNX_MODEL_FILES[options.dtype].externalData,
      session_options: {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        // With the arena off, every run's buffers go back to glibc malloc, which keeps them
        // fragmented: peaks were 25–200 MiB higher than with the arena reusing its blocks.
        enableCpuMemArena: options.arena ?? true,
      },
    });
  } catch (error) {
    throw new EmbedderError(
      `cannot load the ${options.dtype} embedding model from ${folder}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return new OnnxEmbedder(
    tokenizer,
    model,
    options.dtype,
    options.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS,
  );
}

class OnnxEmbedder implements Embedder {
  constructor(
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: PreTrainedModel,
    readonly dtype: ModelDtype,
    private readonly maxBatchTokens: number,
  ) {}

  countTokens(text: string): number {
    return this.tokenizer.encode(text).length;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const rows = texts.map((text) => this.tokenize(text));
    const vectors = new Array<Float32Array>(texts.length);
    // Longest first, so each sub-batch pads to nearly its own length and the first run is the
    // largest (a memory problem shows at once, not after minutes of indexing).
    const order = rows
      .map((_, i) => i)
      .sort((a, b) => (rows[b]?.length ?? 0) - (rows[a]?.length ?? 0));
    let start = 0;
    while (start < order.length) {
      const longest = rows[order[start] ?? 0]?.length ?? 1;
      const size = Math.max(1, Math.floor(this.maxBatchTokens / longest));
      const batch = order.slice(start, start + size);
      const pooled = await this.run(
        batch.map((i) => rows[i] ?? []),
        longest,
      );
      batch.forEach((index, j) => {
        vectors[index] = pooled[j] ?? new Float32Array(EMBEDDING_DIMENSIONS);
      });
      start += batch.length;
    }
    return vectors;
  }

  /** Word-piece ids with [CLS] … [SEP], cut to MAX_TOKENS the way the tokenizer truncates. */
  private tokenize(text: string): number[] {
    const encoded = this.tokenizer(text, {
      truncation: true,
      max_length: MAX_TOKENS,
      return_tensor: false,
    });
    const ids: unknown = encoded.input_ids;
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === "number")) {
      throw new EmbedderError("the tokenizer returned no input ids");
    }
    return ids;
  }

  /** One forward pass over right-padded rows; mean over real tokens, then L2-normalised. */
  private async run(rows: number[][], length: number): Promise<Float32Array[]> {
    const count = rows.length;
    const inputIds = new BigInt64Array(count * length);
    const attentionMask = new BigInt64Array(count * length);
    rows.forEach((row, r) => {
      row.forEach((id, t) => {
        inputIds[r * length + t] = BigInt(id);
        attentionMask[r * length + t] = 1n;
      });
    });
    const dims = [count, length];
    const output: unknown = await this.model({
      input_ids: new Tensor("int64", inputIds, dims),
      attention_mask: new Tensor("int64", attentionMask, dims),
      token_type_ids: new Tensor("int64", new BigInt64Array(count * length), dims),
    });
    const hidden = lastHiddenState(output);
    try {
      const data = hidden.data;
      if (
        !(data instanceof Float32Array) ||
        hidden.dims.join() !== `${count},${length},${EMBEDDING_DIMENSIONS}`
      ) {
        throw new EmbedderError(
          `unexpected model output ${hidden.type} [${hidden.dims.join(", ")}]`,
        );
      }
      return rows.map((row, r) => meanPoolNormalised(data, r * length, row.length));
    } finally {
      hidden.dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

function lastHiddenState(output: unknown): Tensor {
  if (typeof output === "object" && output !== null && "last_hidden_state" in output) {
    const tensor = output.last_hidden_state;
    if (tensor instanceof Tensor) return tensor;
  }
  throw new EmbedderError("the model returned no last_hidden_state");
}

/** Mean of `tokens` consecutive 384-float rows starting at row `firstRow`, as a unit vector. */
function meanPoolNormalised(data: Float32Array, firstRow: number, tokens: number): Float32Array {
  const vector = new Float32Array(EMBEDDING_DIMENSIONS);
  for (let t = 0; t < tokens; t++) {
    const offset = (firstRow + t) * EMBEDDING_DIMENSIONS;
    for (let d = 0; d < EMBEDDING_DIMENSIONS; d++)
      vector[d] = (vector[d] ?? 0) + (data[offset + d] ?? 0);
  }
  let norm = 0;
  for (let d = 0; d < EMBEDDING_DIMENSIONS; d++) norm += (vector[d] ?? 0) ** 2;
  // Dividing by the token count is skipped: normalisation cancels it.
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let d = 0; d < EMBEDDING_DIMENSIONS; d++) vector[d] = (vector[d] ?? 0) * scale;
  return vector;
}
