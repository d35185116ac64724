/**
 * WGSL for depth-to-space (PyTorch's `pixel_shuffle`) and its inverse space-to-depth
 * (`pixel_unshuffle`): one source, parameterised by direction.
 *
 * Both are the same permutation of an [N·C, r, r, H, W] tensor (the depth layout, channel
 * c·r² + i·r + j) to [N·C, H, r, W, r] (the space layout, pixel (h·r + i, w·r + j)) and back. Each
 * thread decodes the row of its output once; along a row the source index is an affine function of
 * the column (plus a channel jump every r columns for depth-to-space), so writes are contiguous and
 * each read is one gather.
 * @module
 */
import { FLAT_WORKGROUP, wgsl } from "./wgsl.ts";

/** Which way the permutation runs. */
export type PixelShuffleDirection = "depthToSpace" | "spaceToDepth";

/**
 * y = x permuted between the depth layout [P, r, r, H, W] and the space layout [P, H·r, W·r], for
 * P = N·C planes and the low-resolution `height`·`width`. With `direction` "depthToSpace" y is the
 * space layout, else the depth layout. One thread per output float, or with `texels` (output rows a
 * multiple of 4 long) one per four consecutive outputs of a row, written as one vec4.
 *
 * x is read from its storage buffer, not a staged linear texture as the other data-movement kernels
 * do on software adapters: these reads are scattered floats, and on lavapipe a texel load plus a
 * dynamic component pick cost more than a storage load, before the staging copy (2M floats, r = 2:
 * 7 ms with storage reads and vec4 writes, 14–17 ms staged).
 */
export function pixelShuffleSource(direction: PixelShuffleDirection, texels: boolean): string {
  const toSpace = direction === "depthToSpace";
  return wgsl`
struct Params { size: u32, factor: u32, height: u32, width: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<${texels ? "vec4f" : "f32"}>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;

#if ${toSpace}
// Output column w·r + j of space row (plane·H + h)·r + i reads depth channel (plane·r + i)·r + j.
fn source(rowBase: u32, column: u32) -> f32 {
  let r = p.factor;
  return x[rowBase + (column % r) * p.height * p.width + column / r];
}
#else
// Output column w of depth row ((plane·r + i)·r + j)·H + h reads space column w·r + j.
fn source(rowBase: u32, column: u32) -> f32 { return x[rowBase + column * p.factor]; }
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = gid.x + gid.y * groups.x * WG;
#if ${texels}
  if (t >= p.size / 4u) { return; }
  let first = 4u * t;
#else
  if (t >= p.size) { return; }
  let first = t;
#endif
  let r = p.factor;
#if ${toSpace}
  let rowLength = p.width * r;
  let row = first / rowLength; // (plane·H + h)·r + i
  let planeRow = row / r; // plane·H + h
  let i = row - planeRow * r;
  let plane = planeRow / p.height;
  let h = planeRow - plane * p.height;
  let rowBase = ((plane * r + i) * r * p.height + h) * p.width; // source of column 0
#else
  let rowLength = p.width;
  let row = first / rowLength; // ((plane·r + i)·r + j)·H + h
  let channel = row / p.height; // (plane·r + i)·r + j
  let h = row - channel * p.height;
  let planeI = channel / r; // plane·r + i
  let j = channel - planeI * r;
  let plane = planeI / r;
  let i = planeI - plane * r;
  let rowBase = ((plane * p.height + h) * r + i) * p.width * r + j; // source of column 0
#endif
  let column = first - row * rowLength;
#if ${texels}
  y[t] = vec4f(
    source(rowBase, column),
    source(rowBase, column + 1u),
    source(rowBase, column + 2u),
    source(rowBase, column + 3u),
  );
#else
  y[t] = source(rowBase, column);
#endif
}
`;
}
