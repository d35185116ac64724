/**
 * WGSL for data movement: copying a slab along one axis (concat, split and their gradients) and
 * nearest ×2 resampling (upsample, 2×2 sum pooling, each the other's adjoint).
 *
 * A tensor is viewed as [outer, axis, inner] around the axis that is cut; a slab of `len` entries
 * of that axis is then `outer` contiguous runs of `len·inner` floats, so the index math is one
 * division per element.
 * @module
 */
import { linearOperand } from "./staging.ts";
import { FLAT_WORKGROUP, flatMain, wgsl } from "./wgsl.ts";

/**
 * dst[o, dstOffset + r] = src[o, srcOffset + r] for r < run, where rows are `srcRow`/`dstRow` floats
 * long and offsets count floats (axis offset · inner). One thread per copied float.
 */
export function copySlabSource(): string {
  return wgsl`
struct Params { size: u32, run: u32, srcRow: u32, srcOffset: u32, dstRow: u32, dstOffset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
${flatMain("t")}
  let o = t / p.run;
  let r = t - o * p.run;
  dst[o * p.dstRow + p.dstOffset + r] = src[o * p.srcRow + p.srcOffset + r];
}
`;
}

/**
 * The adjoint of taking a slab: dst[o, r] = src[o, r − offset] inside [offset, offset + run) of
 * each `dstRow`-float row, 0 elsewhere. One thread per destination float (no separate fill).
 */
export function padSlabSource(): string {
  return wgsl`
struct Params { size: u32, run: u32, dstRow: u32, offset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
${flatMain("t")}
  let o = t / p.dstRow;
  let r = t - o * p.dstRow;
  var value = 0.0;
  if (r >= p.offset && r < p.offset + p.run) { value = src[o * p.run + r - p.offset]; }
  dst[t] = value;
}
`;
}

/**
 * Nearest ×2 upsampling of planes [P, H, W] → [P, 2H, 2W], times `scale` (1 for the upsample,
 * 1/4 for the gradient of average pooling). One thread per output float, or with `texels` (x in a
 * linear texture, W even) one per texel of four outputs: two input pixels, each repeated twice.
 */
export function upsample2xSource(texture: boolean, texels: boolean): string {
  return wgsl`
struct Params { size: u32, height: u32, width: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<${texels ? "vec4f" : "f32"}>;
${linearOperand("x", 2, texture)}
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = gid.x + gid.y * groups.x * WG;
#if ${texels}
  if (t >= p.size / 4u) { return; }
  let outWidth = p.width / 2u; // texels per output row
  let col = 2u * (t % outWidth); // first of the two input columns
#else
  if (t >= p.size) { return; }
  let outWidth = 2u * p.width;
  let col = (t % outWidth) / 2u;
#endif
  let rowOfPlanes = t / outWidth; // plane · 2H + row
  let plane = rowOfPlanes / (2u * p.height);
  let row = rowOfPlanes - plane * 2u * p.height;
  let at = (plane * p.height + row / 2u) * p.width + col;
#if ${texels}
  // at is even, so both input pixels sit in one texel.
  let texel = p.scale * xTexel(at / 4u);
  let pair = select(texel.zw, texel.xy, at % 4u == 0u);
  y[t] = pair.xxyy;
#else
  y[t] = p.scale * xAt(at);
#endif
}
`;
}

/**
 * 2×2 sum pooling with stride 2 of planes [P, 2H, 2W] → [P, H, W], times `scale` (1/4 for average
 * pooling, 1 for the gradient of the upsample). `height`/`width` are the output's. One thread per
 * output float, or with `texels` (x in a linear texture, W a multiple of 4) one per texel of four
 * outputs from two texels of each input row, summed in the same order.
 */
export function pool2xSource(texture: boolean, texels: boolean): string {
  return wgsl`
struct Params { size: u32, height: u32, width: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<${texels ? "vec4f" : "f32"}>;
${linearOperand("x", 2, texture)}
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = gid.x + gid.y * groups.x * WG;
#if ${texels}
  if (t >= p.size / 4u) { return; }
  let rowTexels = p.width / 4u;
  let col = 4u * (t % rowTexels);
  let rowOfPlanes = t / rowTexels;
#else
  if (t >= p.size) { return; }
  let col = t % p.width;
  let rowOfPlanes = t / p.width; // plane · H + row, so the input row pair starts at 2·rowOfPlanes
#endif
  let inWidth = 2u * p.width;
  let top = 2u * rowOfPlanes * inWidth + 2u * col;
  let bottom = top + inWidth;
#if ${texels}
  let t0 = xTexel(top / 4u);
  let t1 = xTexel(top / 4u + 1u);
  let b0 = xTexel(bottom / 4u);
  let b1 = xTexel(bottom / 4u + 1u);
  let pairsTop = vec4f(t0.x + t0.y, t0.z + t0.w, t1.x + t1.y, t1.z + t1.w);
  let pairsBottom = vec4f(b0.x + b0.y, b0.z + b0.w, b1.x + b1.y, b1.z + b1.w);
  y[t] = p.scale * (pairsTop + pairsBottom);
#else
  y[t] = p.scale * ((xAt(top) + xAt(top + 1u)) + (xAt(bottom) + xAt(bottom + 1u)));
#endif
}
`;
}
