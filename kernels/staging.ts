/**
 * Linear textures: how the memory-bound kernels (group norm, elementwise, reductions, data movement)
 * read their operands on software adapters.
 *
 * On lavapipe a `var<storage>` load runs lane by lane (~4–6 ns per float), while a buffer-to-texture
 * copy is a memcpy (~0.1–0.2 ns per float) and a `textureLoad` of an rgba32float texel ~0.5 ns for
 * four floats. So these kernels copy each large operand into a texture of {@link LINEAR_TEXELS}
 * texels per row (float i is component i mod 4 of texel i / 4) and read that; a training step's
 * elementwise work got ~5× cheaper. On GPUs storage loads are fast and the copy would be pure cost,
 * so there the kernels read the buffers directly. Which access a runtime uses is a per-runtime
 * choice with the adapter's default, forced both ways by the variant-equivalence tests.
 * @module
 */
import type { Runtime } from "./runtime.ts";
import { plainView } from "./texture_views.ts";

/**
 * Loop iterations one invocation may run on lavapipe/llvmpipe: gallivm ends every loop of an
 * invocation once their iterations together reach 65535 (its LP_MAX_TGSI_LOOP_ITERATIONS), without
 * an error, so a longer strided loop silently drops the rest of its data.
 */
export const SOFTWARE_LOOP_LIMIT = 65535;

/**
 * The smallest of `sizes` (ascending workgroup sizes) for which `iterations(lanes)`, a kernel's
 * loop iterations per invocation, stays within half of {@link SOFTWARE_LOOP_LIMIT}; null when none does.
 */
export function lanesWithin(sizes: readonly number[], iterations: (lanes: number) => number): number | null {
  return sizes.find((lanes) => iterations(lanes) <= SOFTWARE_LOOP_LIMIT / 2) ?? null;
}

/** Texels per row of a linear texture (rows are 16 KiB, a multiple of the copy's 256-byte alignment). */
export const LINEAR_TEXELS = 1024;

const ROW_FLOATS = 4 * LINEAR_TEXELS;

/** How a kernel reads its operands: staged into linear textures, or straight from storage buffers. */
export type OperandAccess = "texture" | "storage";

const chosen = new WeakMap<Runtime, OperandAccess>();

/** The access `rt` uses: the forced choice, else textures on software adapters and storage on GPUs. */
export function operandAccess(rt: Runtime): OperandAccess {
  return chosen.get(rt) ?? (rt.adapter.isSoftware ? "texture" : "storage");
}

/** Makes the memory-bound kernels on `rt` use `access` (`null` returns to the adapter's default). */
export function setOperandAccess(rt: Runtime, access: OperandAccess | null): void {
  if (access) chosen.set(rt, access);
  else chosen.delete(rt);
}

/**
 * `n`, or the next size up when `n` is a power of two: llvmpipe compiles a shader variant per
 * combination of its textures' power-of-two-ness, so staged and packed textures never have one.
 */
export function notPowerOfTwo(n: number): number {
  const isPowerOfTwo = (v: number): boolean => (v & (v - 1)) === 0;
  if (!isPowerOfTwo(n)) return n;
  return isPowerOfTwo(n + 1) ? n + 2 : n + 1;
}

/** Rows of a linear texture holding `floats` floats. */
function rowsOf(floats: number): number {
  return Math.max(1, Math.ceil(floats / ROW_FLOATS));
}

/** Whether `floats` floats fit one linear texture on `rt`. */
export function fitsLinear(rt: Runtime, floats: number): boolean {
  return notPowerOfTwo(rowsOf(floats)) <= rt.device.limits.maxTextureDimension2D;
}

/**
 * Whether a kernel on `rt` should stage operands of `floats` floats (the largest it reads) and
 * write `out` as whole texels: texture access is chosen, the operands fit a linear texture, and
 * `out`'s buffer has room for the last texel (pooled buffers always do; persistent ones may not).
 */
export function useTextures(rt: Runtime, floats: number, out?: { buffer: GPUBuffer; size: number }): boolean {
  return operandAccess(rt) === "texture" && fitsLinear(rt, floats) &&
    (!out || out.buffer.size >= 16 * Math.ceil(out.size / 4));
}

/**
 * Copies the first `floats` floats of `buffer` into a pooled linear texture and returns it; the
 * caller binds `plainView(texture)` (`texture_views.ts`) and hands it back with `rt.releaseTexture`
 * after recording its readers. A tail that stops inside a texel past the buffer's end (persistent
 * buffers are sized to 4 bytes) is copied through a pooled buffer; floats past `floats` in the last
 * texel are undefined.
 */
export function stageLinear(rt: Runtime, buffer: GPUBuffer, floats: number): GPUTexture {
  const rows = Math.floor(floats / ROW_FLOATS);
  const tailFloats = floats - rows * ROW_FLOATS;
  const texture = acquireLinear(rt, floats);
  if (rows > 0) {
    rt.copyBufferToTexture(
      { buffer, bytesPerRow: ROW_FLOATS * 4, rowsPerImage: rows },
      { texture },
      { width: LINEAR_TEXELS, height: rows },
    );
  }
  if (tailFloats > 0) {
    const tailOffset = rows * ROW_FLOATS * 4;
    const tailTexels = Math.ceil(tailFloats / 4);
    let source = buffer;
    let offset = tailOffset;
    if (buffer.size < tailOffset + tailTexels * 16) {
      source = rt.acquire(tailTexels * 16);
      offset = 0;
      rt.copyBuffer(buffer, tailOffset, source, 0, tailFloats * 4);
    }
    rt.copyBufferToTexture({ buffer: source, offset }, { texture, origin: { x: 0, y: rows } }, {
      width: tailTexels,
      height: 1,
    });
    if (source !== buffer) rt.release(source);
  }
  return texture;
}

/** A pooled linear texture with room for `floats` floats, for a kernel to write (see {@link unstageLinear}). */
export function acquireLinear(rt: Runtime, floats: number): GPUTexture {
  return rt.acquireTexture(notPowerOfTwo(LINEAR_TEXELS), notPowerOfTwo(rowsOf(floats)));
}

/**
 * Copies the first `floats` floats (a multiple of 4) of a linear texture into `buffer`: the way
 * back of {@link stageLinear}, for kernels that write their output as linear texels.
 */
export function unstageLinear(rt: Runtime, texture: GPUTexture, buffer: GPUBuffer, floats: number): void {
  const rows = Math.floor(floats / ROW_FLOATS);
  const tailTexels = (floats - rows * ROW_FLOATS) / 4;
  if (rows > 0) {
    rt.copyTextureToBuffer({ texture }, { buffer, bytesPerRow: ROW_FLOATS * 4, rowsPerImage: rows }, {
      width: LINEAR_TEXELS,
      height: rows,
    });
  }
  if (tailTexels > 0) {
    rt.copyTextureToBuffer(
      { texture, origin: { x: 0, y: rows } },
      { buffer, offset: rows * ROW_FLOATS * 4 },
      {
        width: tailTexels,
        height: 1,
      },
    );
  }
}

/**
 * WGSL declaring operand `name` at `binding` with two accessors, `${name}Texel(q)` (floats
 * 4q … 4q+3) and `${name}At(i)` (float i), reading a linear texture when `texture` and a storage
 * buffer otherwise. A storage texel past the buffer's end reads as robust access allows (zeros or
 * another element): callers use those components only below the operand's size.
 */
export function linearOperand(name: string, binding: number, texture: boolean): string {
  if (texture) {
    return `
@group(0) @binding(${binding}) var ${name}Linear: texture_2d<f32>;
fn ${name}Texel(q: u32) -> vec4f {
  return textureLoad(${name}Linear, vec2u(q % ${LINEAR_TEXELS}u, q / ${LINEAR_TEXELS}u), 0);
}
fn ${name}At(i: u32) -> f32 { return ${name}Texel(i / 4u)[i % 4u]; }
`;
  }
  return `
@group(0) @binding(${binding}) var<storage, read> ${name}: array<f32>;
fn ${name}Texel(q: u32) -> vec4f {
  let i = 4u * q;
  return vec4f(${name}[i], ${name}[i + 1u], ${name}[i + 2u], ${name}[i + 3u]);
}
fn ${name}At(i: u32) -> f32 { return ${name}[i]; }
`;
}

/** Bindings of linear operands, and the hand-back of any textures staged for them. */
export interface LinearBindings {
  /** One binding per operand, in order: a texture view when staged, else the buffer. */
  bindings: (GPUBuffer | GPUTextureView)[];
  /** Returns the staged textures to the pool; call after recording the dispatches that read them. */
  release: () => void;
}

/** Stages each operand into a linear texture when `texture`, else binds its buffer as it is. */
export function linearBindings(
  rt: Runtime,
  texture: boolean,
  operands: readonly { buffer: GPUBuffer; size: number }[],
): LinearBindings {
  if (!texture) return { bindings: operands.map((o) => o.buffer), release: () => {} };
  const textures = operands.map((o) => stageLinear(rt, o.buffer, o.size));
  return {
    bindings: textures.map(plainView),
    release: () => textures.forEach((t) => rt.releaseTexture(t)),
  };
}
