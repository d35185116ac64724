/**
 * WGSL for group normalisation (Wu & He 2018) over NCHW tensors, optionally fused with SiLU.
 *
 * In NCHW the C/G channels of one group of one sample are one contiguous run of
 * `groupSize = (C/G)·H·W` floats starting at `(n·G + g)·groupSize`, so one workgroup per
 * (sample, group) reads a single span. Statistics are Welford running moments per thread, merged
 * across threads with Chan et al.'s pairwise formula in a fixed order: one read of x, numerically
 * stable (never E[x²] − E[x]²), and deterministic.
 *
 * Reductions across the workgroup are one barrier and a serial pass by lane 0 over the
 * partials, not a log₂-depth tree: on lavapipe each barrier costs more than those steps
 * (measured at 32×32×128: 1.3 ms against 2.7 ms for a 256-wide tree). On CPU adapters the
 * workgroup is a single 8-lane SIMD batch reading x and ∂L/∂y from linear textures
 * (`staging.ts`), four floats per load. Forward + backward with SiLU on lavapipe went from 13.6 to
 * 2.4 ms at [8, 32, 32, 32] and from 6.0 to 1.6 ms at [8, 128, 8, 8] against 64-lane workgroups
 * reading storage buffers (whose per-channel loops and barriers ran 8 mostly idle SIMD batches).
 *
 * Forward saves mean and 1/std per (sample, group); the backward recomputes x̂ (and, fused, the
 * pre-activation z) from them instead of storing a normalised copy of x.
 * @module
 */
import { linearOperand } from "./staging.ts";
import { wgsl } from "./wgsl.ts";

/** Threads per workgroup of the per-channel parameter-gradient sum. */
export const CHANNEL_SUM_WORKGROUP = 64;

const params = `
struct Params {
  groupSize: u32,        // (C/G)·H·W floats per (sample, group)
  spatial: u32,          // H·W
  channelsPerGroup: u32, // C/G
  groups: u32,           // G
  eps: f32,
  width: u32,            // W (packed output only)
  border: u32,           // zero border of the packed output
  upscale: u32,          // 1, or 2 for a nearest ×2 upsampling on the way (packed output only)
}
@group(0) @binding(0) var<uniform> p: Params;
`;

/**
 * Compile-time choices shared by the forward and backward kernels: `texture` reads x (and ∂L/∂y)
 * from linear textures (`staging.ts`); `aligned` (H·W a multiple of 4, outputs with room for whole
 * texels) walks whole texels — four floats per load and per store — instead of single floats.
 */
export interface GroupNormVariant {
  /** Fuse SiLU after the affine map. */
  silu: boolean;
  /** Operands staged in linear textures instead of read from storage buffers. */
  texture: boolean;
  /** Channel rows start on texel boundaries: texel loops and vec4 stores. */
  aligned: boolean;
  /** Threads per (sample, group) workgroup. */
  workgroup: number;
  /**
   * Forward only: write y as the packed image the register-tiled convolution reads (texels of four
   * channels with a zero border, `packImageSource`) instead of NCHW, optionally upsampled ×2
   * (nearest). Needs `aligned` (H·W a multiple of 4) and C/G a multiple of 4.
   */
  packed: boolean;
}

/**
 * y = γ·x̂ + β (then SiLU when `silu`), x̂ = (x − mean)·rstd. Writes `stats[2·(n·G + g)]` = mean and
 * `stats[2·(n·G + g) + 1]` = rstd. Dispatch N·G workgroups (x = n·G + g).
 */
export function groupNormForwardSource(
  { silu, texture, aligned, workgroup, packed }: GroupNormVariant,
): string {
  const output = packed
    ? `var image: texture_storage_2d_array<rgba32float, write>;

// Pixel (x, y) of the normalised plane: its texel, or its 2 × 2 block when upsampling.
fn storePixel(at: vec2u, layer: u32, value: vec4f) {
  for (var dy = 0u; dy < p.upscale; dy++) {
    for (var dx = 0u; dx < p.upscale; dx++) {
      textureStore(image, at * p.upscale + vec2u(dx + p.border, dy + p.border), layer, value);
    }
  }
}`
    : `var<storage, read_write> y: array<${aligned ? "vec4f" : "f32"}>;`;
  return wgsl`
${params}
@group(0) @binding(1) ${output}
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
${linearOperand("x", 3, texture)}
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
const WG: u32 = ${workgroup}u;

// Per-thread moments (count, mean, M2 = Σ(x − mean)²), merged in lane order.
var<workgroup> count: array<f32, WG>;
var<workgroup> mean: array<f32, WG>;
var<workgroup> m2: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u) {
  let slot = wid.x; // n·G + g
  let base = slot * p.groupSize;

  // Welford: one pass over this thread's strided share of the group.
  var n = 0.0;
  var mu = 0.0;
  var s = 0.0;
#if ${aligned}
  // A texel's four values are merged as one batch (Chan et al.): its own mean and M2, then the
  // pairwise update with the running moments.
  let firstTexel = base / 4u;
  for (var q = lane; q < p.groupSize / 4u; q += WG) {
    let v = xTexel(firstTexel + q);
    let batchMean = (v.x + v.y + v.z + v.w) * 0.25;
    let d = v - batchMean;
    let total = n + 4.0;
    let delta = batchMean - mu;
    mu += delta * (4.0 / total);
    s += dot(d, d) + delta * delta * (n * 4.0 / total);
    n = total;
  }
#else
  for (var e = lane; e < p.groupSize; e += WG) {
    let v = xAt(base + e);
    n += 1.0;
    let d = v - mu;
    mu += d / n;
    s += d * (v - mu);
  }
#endif
  count[lane] = n;
  mean[lane] = mu;
  m2[lane] = s;
  workgroupBarrier();

  // Chan's merge of the partials in lane order: with n = na + nb and δ = mb − ma,
  // mean = ma + δ·nb/n and M2 = M2a + M2b + δ²·na·nb/n. Empty partials are skipped.
  if (lane == 0u) {
    var na = count[0];
    var ma = mean[0];
    var sa = m2[0];
    for (var t = 1u; t < WG; t++) {
      let nb = count[t];
      if (nb > 0.0) {
        let total = na + nb;
        let delta = mean[t] - ma;
        ma += delta * (nb / total);
        sa += m2[t] + delta * delta * (na * nb / total);
        na = total;
      }
    }
    mean[0] = ma;
    m2[0] = sa;
  }
  workgroupBarrier();
  let groupMean = mean[0];
  let rstd = inverseSqrt(m2[0] / f32(p.groupSize) + p.eps);
  if (lane == 0u) {
    stats[2u * slot] = groupMean;
    stats[2u * slot + 1u] = rstd;
  }

#if ${packed}
${packedOutputLoop(silu)}
#else
  // Channel-outer loop: γ and β are read once per channel (uniform loads), not once per element.
  let firstChannel = (slot % p.groups) * p.channelsPerGroup;
  for (var ch = 0u; ch < p.channelsPerGroup; ch++) {
    let scale = gamma[firstChannel + ch] * rstd;
    let shift = beta[firstChannel + ch] - groupMean * scale;
    let row = base + ch * p.spatial;
#if ${aligned}
    for (var q = lane; q < p.spatial / 4u; q += WG) {
      let z = fma(xTexel(row / 4u + q), vec4f(scale), vec4f(shift));
#else
    for (var i = lane; i < p.spatial; i += WG) {
      let z = fma(xAt(row + i), scale, shift);
#endif
#if ${silu}
      let value = z / (1.0 + exp(-z));
#else
      let value = z;
#endif
#if ${aligned}
      y[row / 4u + q] = value;
#else
      y[row + i] = value;
#endif
    }
  }
#endif
}
`;
}

/**
 * The forward's output loop when y goes to the packed image: one pass per quad of channels reads
 * four channel rows a texel (four pixels) at a time and stores four texels, one per pixel, each
 * holding the quad's four channels (a 4 × 4 transpose in registers), or each texel to its 2 × 2
 * block when upsampling; then the quad's layer gets its zero border. C/G is a multiple of 4, so a
 * group owns whole layers.
 */
function packedOutputLoop(silu: boolean): string {
  const activate = (z: string): string => (silu ? `${z} / (1.0 + exp(-${z}))` : z);
  const store = (at: string, value: string): string => `storePixel(${at}, layer, ${value});`;
  return `
  let firstChannel = (slot % p.groups) * p.channelsPerGroup;
  let height = p.spatial / p.width;
  let quadsPerRow = p.width / 4u;
  let firstLayer = ((slot / p.groups) * p.groups * p.channelsPerGroup + firstChannel) / 4u;
  // The image the convolution reads: the (upsampled) plane inside the border.
  let innerWidth = p.width * p.upscale;
  let innerHeight = height * p.upscale;
  let paddedWidth = innerWidth + 2u * p.border;
  let edgeRows = 2u * p.border * paddedWidth;
  for (var cq = 0u; cq < p.channelsPerGroup / 4u; cq++) {
    let c = firstChannel + 4u * cq;
    let scale = vec4f(gamma[c], gamma[c + 1u], gamma[c + 2u], gamma[c + 3u]) * rstd;
    let shift = vec4f(beta[c], beta[c + 1u], beta[c + 2u], beta[c + 3u]) - groupMean * scale;
    let row = (base + 4u * cq * p.spatial) / 4u;
    let rowTexels = p.spatial / 4u;
    let layer = firstLayer + cq;
    for (var q = lane; q < rowTexels; q += WG) {
      let z0 = fma(xTexel(row + q), vec4f(scale.x), vec4f(shift.x));
      let z1 = fma(xTexel(row + rowTexels + q), vec4f(scale.y), vec4f(shift.y));
      let z2 = fma(xTexel(row + 2u * rowTexels + q), vec4f(scale.z), vec4f(shift.z));
      let z3 = fma(xTexel(row + 3u * rowTexels + q), vec4f(scale.w), vec4f(shift.w));
      let v0 = ${activate("z0")};
      let v1 = ${activate("z1")};
      let v2 = ${activate("z2")};
      let v3 = ${activate("z3")};
      // Pixels 4q … 4q+3 lie in one image row when W is a multiple of 4; else each finds its own.
      var at0 = vec2u(4u * (q % quadsPerRow), q / quadsPerRow);
      var at1 = at0 + vec2u(1u, 0u);
      var at2 = at0 + vec2u(2u, 0u);
      var at3 = at0 + vec2u(3u, 0u);
      if (p.width % 4u != 0u) {
        at0 = vec2u((4u * q) % p.width, (4u * q) / p.width);
        at1 = vec2u((4u * q + 1u) % p.width, (4u * q + 1u) / p.width);
        at2 = vec2u((4u * q + 2u) % p.width, (4u * q + 2u) / p.width);
        at3 = vec2u((4u * q + 3u) % p.width, (4u * q + 3u) / p.width);
      }
      ${store("at0", "vec4f(v0.x, v1.x, v2.x, v3.x)")}
      ${store("at1", "vec4f(v0.y, v1.y, v2.y, v3.y)")}
      ${store("at2", "vec4f(v0.z, v1.z, v2.z, v3.z)")}
      ${store("at3", "vec4f(v0.w, v1.w, v2.w, v3.w)")}
    }
    // The border: full rows above and below, then the side columns of the image's rows.
    for (var i = lane; i < edgeRows + 2u * p.border * innerHeight; i += WG) {
      var at: vec2u;
      if (i < edgeRows) {
        let r = i / paddedWidth;
        at = vec2u(i % paddedWidth, select(innerHeight + r, r, r < p.border));
      } else {
        let j = i - edgeRows;
        let side = j % (2u * p.border);
        at = vec2u(select(innerWidth + side, side, side < p.border), j / (2u * p.border) + p.border);
      }
      textureStore(image, at, layer, vec4f());
    }
  }`;
}

/**
 * Input gradient and per-(sample, channel) partial parameter gradients, one workgroup per
 * (sample, group). With u = ∂L/∂z (= ∂L/∂y, or ∂L/∂y · SiLU'(z) when fused) and M = groupSize:
 *
 *   ∂L/∂x = rstd · (γ_c·u − (Σ γ·u + x̂ · Σ γ·u·x̂) / M)        (sums over the group)
 *   channelSums[n, c] = (Σ_hw u, Σ_hw u·x̂)                     (β and γ gradients before Σ_n)
 */
export function groupNormBackwardSource({ silu, texture, aligned, workgroup }: GroupNormVariant): string {
  const value = aligned ? "vec4f" : "f32";
  return wgsl`
${params}
@group(0) @binding(1) var<storage, read_write> dx: array<${value}>;
@group(0) @binding(2) var<storage, read_write> channelSums: array<f32>;
${linearOperand("dy", 3, texture)}
${linearOperand("x", 4, texture)}
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read> gamma: array<f32>;
@group(0) @binding(7) var<storage, read> beta: array<f32>;
const WG: u32 = ${workgroup}u;

// Two halves used by alternate channels, so one barrier per channel suffices: a lane writing
// channel ch + 2's partial has passed channel ch + 1's barrier, which lane 0 reaches only after
// reading channel ch's.
var<workgroup> partial: array<vec2f, 2 * WG>;
var<workgroup> groupSums: vec2f;

// x̂ and ∂L/∂z at one element (or texel): the incoming gradient, times SiLU'(z) when fused.
struct Point { xhat: ${value}, u: ${value} }

fn point(at: u32, groupMean: f32, rstd: f32, g: f32, b: f32) -> Point {
#if ${aligned}
  let xhat = (xTexel(at) - groupMean) * rstd;
  let incoming = dyTexel(at);
#else
  let xhat = (xAt(at) - groupMean) * rstd;
  let incoming = dyAt(at);
#endif
#if ${silu}
  let z = fma(xhat, ${value}(g), ${value}(b));
  let s = 1.0 / (1.0 + exp(-z));
  return Point(xhat, incoming * s * (1.0 + z * (1.0 - s)));
#else
  return Point(xhat, incoming);
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u) {
  let slot = wid.x;
  let base = slot * p.groupSize;
  let groupMean = stats[2u * slot];
  let rstd = stats[2u * slot + 1u];
  let sample = slot / p.groups;
  let firstChannel = (slot % p.groups) * p.channelsPerGroup;
  let channels = p.groups * p.channelsPerGroup;
#if ${aligned}
  let rowLength = p.spatial / 4u; // texels per channel row
  let unit = 4u;
#else
  let rowLength = p.spatial;
  let unit = 1u;
#endif

  // Pass 1: per-channel Σu and Σu·x̂, summed in lane order (deterministic).
  var sums = vec2f(0.0);
  for (var ch = 0u; ch < p.channelsPerGroup; ch++) {
    let c = firstChannel + ch;
    let g = gamma[c];
    let b = beta[c];
    let row = (base + ch * p.spatial) / unit;
    var acc = vec2f(0.0);
    for (var i = lane; i < rowLength; i += WG) {
      let at = point(row + i, groupMean, rstd, g, b);
#if ${aligned}
      acc += vec2f(dot(at.u, vec4f(1.0)), dot(at.u, at.xhat));
#else
      acc += vec2f(at.u, at.u * at.xhat);
#endif
    }
    let half = (ch % 2u) * WG;
    partial[half + lane] = acc;
    workgroupBarrier();
    if (lane == 0u) {
      var total = partial[half];
      for (var t = 1u; t < WG; t++) { total += partial[half + t]; }
      channelSums[2u * (sample * channels + c)] = total.x;
      channelSums[2u * (sample * channels + c) + 1u] = total.y;
      sums += g * total;
    }
  }
  if (lane == 0u) { groupSums = sums / f32(p.groupSize); }
  workgroupBarrier();
  let meanGu = groupSums.x;
  let meanGuXhat = groupSums.y;

  // Pass 2: the input gradient.
  for (var ch = 0u; ch < p.channelsPerGroup; ch++) {
    let c = firstChannel + ch;
    let g = gamma[c];
    let b = beta[c];
    let row = (base + ch * p.spatial) / unit;
    for (var i = lane; i < rowLength; i += WG) {
      let at = point(row + i, groupMean, rstd, g, b);
      dx[row + i] = rstd * (g * at.u - fma(at.xhat, ${value}(meanGuXhat), ${value}(meanGu)));
    }
  }
}
`;
}

/**
 * γ and β gradients: Σ over samples of the per-(sample, channel) sums, one thread per channel in a
 * fixed order. `dGamma[c] = Σ_n channelSums[n, c].y`, `dBeta[c] = Σ_n channelSums[n, c].x`.
 */
export function groupNormParamGradSource(): string {
  return wgsl`
struct Params { samples: u32, channels: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dBeta: array<f32>;
@group(0) @binding(3) var<storage, read> channelSums: array<f32>;
const WG: u32 = ${CHANNEL_SUM_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.channels) { return; }
  var acc = vec2f(0.0);
  for (var n = 0u; n < p.samples; n++) {
    let at = 2u * (n * p.channels + c);
    acc += vec2f(channelSums[at], channelSums[at + 1u]);
  }
  dBeta[c] = acc.x;
  dGamma[c] = acc.y;
}
`;
}
