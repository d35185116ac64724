/**
 * Packed copies of convolution weights kept for a scope in which the weights do not change — one sampler
 * run, where every step calls each convolution with the same parameters — instead of packing them again
 * at every call (3.5 % of a bundled-model sampling call's GPU time on lavapipe). Only persistent buffers
 * (parameters) are cached, since a pooled buffer may hold other data after its release, and only up to
 * {@link FROZEN_WEIGHT_BYTES}, so a large model's copies never add more than that to the peak.
 * @module
 */
import { textureBytes } from "./pool.ts";
import type { Runtime } from "./runtime.ts";

/** The most bytes of packed weights one scope keeps; packings past it are made per call as outside. */
export const FROZEN_WEIGHT_BYTES = 64 * 2 ** 20;

interface Scope {
  depth: number;
  bytes: number;
  packed: Map<GPUBuffer, Map<string, GPUTexture>>;
  kept: Set<GPUTexture>;
}

const scopes = new WeakMap<Runtime, Scope>();

/**
 * Runs `fn` while packed weights on `rt` are kept, from their first use to the end of the outermost
 * scope. The caller promises that no parameter changes inside `fn`.
 */
export async function withFrozenWeights<T>(rt: Runtime, fn: () => Promise<T>): Promise<T> {
  const scope = scopes.get(rt) ?? { depth: 0, bytes: 0, packed: new Map(), kept: new Set() };
  scopes.set(rt, scope);
  scope.depth++;
  try {
    return await fn();
  } finally {
    if (--scope.depth === 0) {
      scopes.delete(rt);
      for (const texture of scope.kept) rt.releaseTexture(texture);
    }
  }
}

/**
 * The packing of `weights` that `key` names (one per layout), made by `pack`: kept and reused inside a
 * frozen scope when `weights` is persistent and the budget allows, made afresh otherwise. Hand it back
 * with {@link releasePackedWeights}.
 */
export function packedWeights(
  rt: Runtime,
  weights: GPUBuffer,
  key: string,
  pack: () => GPUTexture,
): GPUTexture {
  const scope = scopes.get(rt);
  if (!scope || !rt.isPersistent(weights)) return pack();
  const cached = scope.packed.get(weights)?.get(key);
  if (cached) return cached;
  const texture = pack();
  const bytes = textureBytes(texture.width, texture.height, texture.depthOrArrayLayers, texture.format);
  if (scope.bytes + bytes > FROZEN_WEIGHT_BYTES) return texture;
  scope.bytes += bytes;
  scope.kept.add(texture);
  const byKey = scope.packed.get(weights) ?? new Map<string, GPUTexture>();
  scope.packed.set(weights, byKey.set(key, texture));
  return texture;
}

/** Returns a texture from {@link packedWeights} to the pool, unless a frozen scope keeps it. */
export function releasePackedWeights(rt: Runtime, texture: GPUTexture): void {
  if (!scopes.get(rt)?.kept.has(texture)) rt.releaseTexture(texture);
}
