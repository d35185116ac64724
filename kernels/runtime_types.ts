/**
 * The types of the runtime's interface: what a dispatch binds, its options, and its memory and work
 * counters.
 * @module
 */
import type { Uniforms } from "./uniforms.ts";

/** What a kernel can bind after the uniform parameters: a buffer (whole or a range) or a texture view. */
export type Binding = GPUBuffer | GPUBufferBinding | GPUTextureView;

/** Bytes held on the device, in pooled, persistent and texture allocations. */
export interface MemoryStats {
  /** Pooled buffers currently handed out (bucket sizes). */
  liveBytes: number;
  /** Pooled buffers waiting for reuse, including those released in the open batch. */
  pooledBytes: number;
  /** Buffers outside the pool: parameters, optimizer state, staging arenas. */
  persistentBytes: number;
  /** Pooled textures, live or free. */
  textureBytes: number;
  /** Pooled textures handed out and not yet back for reuse (packed operands, saved packed activations). */
  liveTextureBytes: number;
  /** Everything the runtime has allocated now. */
  allocatedBytes: number;
  /** The highest `allocatedBytes` since creation or the last `resetPeak()`. */
  peakAllocatedBytes: number;
  /** The highest `liveBytes + persistentBytes` since creation or the last `resetPeak()`. */
  peakLiveBytes: number;
}

/** Work counters; `readbacks` is what the "no sync in hot loops" rule is checked against. */
export interface RuntimeCounters {
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Command buffers submitted. */
  submits: number;
  /** GPU→CPU reads (each one a full round trip). */
  readbacks: number;
  /** Pipelines compiled (cache misses). */
  pipelinesCompiled: number;
}

/** Options for `Runtime.create`. */
export interface RuntimeOptions {
  /** Submit the open encoder after this many dispatches (default 32). */
  flushEvery?: number;
  /** Passed to `requestAdapter` (default "high-performance"). */
  powerPreference?: GPUPowerPreference;
  /**
   * Bytes of released textures kept for reuse. Packed operands come in as many shapes as a model has
   * layers, so an unbounded texture pool would hold every one of them at once. Default: 4 MiB plus
   * 1/16 of the persistent allocations (parameters, optimizer state), so big models, whose staged
   * operands are big too, keep more of them, plus the bytes of every texture that had to be created
   * again after the budget dropped one of its shape, so a training or sampling loop keeps its whole
   * working set instead of recreating it each iteration. A value given here is a fixed budget.
   */
  textureCacheBytes?: number;
}

/** One dispatch: a compiled pipeline, its parameters and operands, and the grid size. */
export interface Dispatch {
  /** From `Runtime.pipeline`. */
  pipeline: GPUComputePipeline;
  /** Bound at `@binding(0)`. */
  uniforms: Uniforms;
  /** Bound at `@binding(1)`, `@binding(2)`, … in order. */
  bindings: readonly Binding[];
  /** Workgroup counts (x, y, z). */
  workgroups: readonly [number, number?, number?];
}
