/**
 * Splitting a batched kernel along its samples when the packed operands of the whole batch outgrow a
 * device limit (texture array layers, texture height). Without it a register-tiled convolution at a
 * large batch falls back to the workgroup-tiled family, which on CPU adapters is 20–40× slower
 * (measured on lavapipe: 128→64 channels at 32×32, 4.2 ms per sample at batch 32, 79 at batch 64).
 * Chunks are copied into pooled buffers and back: a memcpy, cheap next to the convolution itself.
 * @module
 */
import type { Runtime } from "./runtime.ts";
import type { TensorRef } from "./shape_math.ts";

/** The largest n ≤ `samples` with `fits(n)` (fits is monotone: fewer samples never fit worse), or 0. */
export function largestFitting(samples: number, fits: (n: number) => boolean): number {
  if (fits(samples)) return samples;
  let low = 0;
  let high = samples;
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    if (fits(mid)) low = mid;
    else high = mid;
  }
  return low;
}

/** [first sample, samples] of each chunk: as equal as possible, so 65 at a limit of 64 is 33 + 32, not 64 + 1. */
export function sampleChunks(samples: number, chunk: number): [number, number][] {
  const count = Math.ceil(samples / Math.max(1, chunk));
  const size = Math.ceil(samples / count);
  const chunks: [number, number][] = [];
  for (let start = 0; start < samples; start += size) chunks.push([start, Math.min(size, samples - start)]);
  return chunks;
}

/** `tensor` with its leading (sample) dimension set to `samples`, in a pooled buffer. */
function acquireChunk(rt: Runtime, tensor: TensorRef, samples: number): TensorRef {
  const shape = [samples, ...tensor.shape.slice(1)];
  const size = shape.reduce((a, b) => a * b, 1);
  return { buffer: rt.acquire(4 * size), shape, size };
}

/**
 * Runs `run` on chunks of at most `chunk` samples of `inputs` (all [N, …]), writing the matching
 * chunks of `outputs` ([N, …]); with chunk ≥ N it is one call on the tensors themselves.
 */
export function forSampleChunks(
  rt: Runtime,
  chunk: number,
  inputs: readonly TensorRef[],
  outputs: readonly TensorRef[],
  run: (inputs: TensorRef[], outputs: TensorRef[], samples: number, index: number) => void,
): void {
  const samples = (inputs[0] ?? outputs[0])!.shape[0]!;
  if (chunk >= samples) {
    run([...inputs], [...outputs], samples, 0);
    return;
  }
  for (const [index, [start, n]] of sampleChunks(samples, chunk).entries()) {
    const ins = inputs.map((t) => acquireChunk(rt, t, n));
    const outs = outputs.map((t) => acquireChunk(rt, t, n));
    inputs.forEach((t, i) =>
      rt.copyBuffer(t.buffer, 4 * start * (t.size / samples), ins[i]!.buffer, 0, 4 * ins[i]!.size)
    );
    run(ins, outs, n, index);
    outputs.forEach((t, i) =>
      rt.copyBuffer(outs[i]!.buffer, 0, t.buffer, 4 * start * (t.size / samples), 4 * outs[i]!.size)
    );
    for (const t of [...ins, ...outs]) rt.release(t.buffer);
  }
}
