/**
 * Plain float64 TypeScript references for the layer ops (group norm, attention, shape ops, noise
 * encoding), written as directly from the formulas as possible: they are the ground truth.
 */
import type { HostTensor } from "./check.ts";

/** GroupNorm with affine, biased variance (torch.nn.GroupNorm), optionally followed by SiLU. */
export function groupNormReference(
  x: HostTensor,
  gamma: HostTensor,
  beta: HostTensor,
  groups: number,
  eps: number,
  silu = false,
): HostTensor {
  const [n, c] = x.shape as [number, number];
  const spatial = x.data.length / (n * c);
  const perGroup = (c / groups) * spatial;
  const out = new Float64Array(x.data.length);
  for (let s = 0; s < n; s++) {
    for (let g = 0; g < groups; g++) {
      const base = (s * groups + g) * perGroup;
      let mean = 0;
      for (let i = 0; i < perGroup; i++) mean += x.data[base + i]!;
      mean /= perGroup;
      let variance = 0;
      for (let i = 0; i < perGroup; i++) variance += (x.data[base + i]! - mean) ** 2;
      variance /= perGroup;
      const rstd = 1 / Math.sqrt(variance + eps);
      for (let i = 0; i < perGroup; i++) {
        const channel = g * (c / groups) + Math.floor(i / spatial);
        const z = (x.data[base + i]! - mean) * rstd * gamma.data[channel]! + beta.data[channel]!;
        out[base + i] = silu ? z / (1 + Math.exp(-z)) : z;
      }
    }
  }
  return { data: out, shape: [...x.shape] };
}

/**
 * Single-head self-attention of the PyTorch SR3 reference: qkv [N, 3C, H, W] split into channel
 * blocks q, k, v; out[c, i] = Σ_j softmax_j(Σ_c' q[c', i]·k[c', j]/√C)·v[c, j].
 */
export function attentionReference(qkv: HostTensor): HostTensor {
  const [n, c3] = qkv.shape as [number, number];
  const c = c3 / 3;
  const tokens = qkv.data.length / (n * c3);
  const out = new Float64Array(n * c * tokens);
  const scale = 1 / Math.sqrt(c);
  const row = new Float64Array(tokens);
  for (let s = 0; s < n; s++) {
    const q = s * c3 * tokens;
    const k = q + c * tokens;
    const v = k + c * tokens;
    for (let i = 0; i < tokens; i++) {
      let max = -Infinity;
      for (let j = 0; j < tokens; j++) {
        let dot = 0;
        for (let ch = 0; ch < c; ch++) dot += qkv.data[q + ch * tokens + i]! * qkv.data[k + ch * tokens + j]!;
        row[j] = dot * scale;
        max = Math.max(max, row[j]!);
      }
      let total = 0;
      for (let j = 0; j < tokens; j++) total += row[j] = Math.exp(row[j]! - max);
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let j = 0; j < tokens; j++) acc += row[j]! * qkv.data[v + ch * tokens + j]!;
        out[(s * c + ch) * tokens + i] = acc / total;
      }
    }
  }
  return { data: out, shape: [n, c, ...qkv.shape.slice(2)] };
}

/** Concatenation along `axis`. */
export function concatReference(xs: HostTensor[], axis: number): HostTensor {
  const first = xs[0]!;
  const outer = first.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = first.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const total = xs.reduce((sum, x) => sum + x.shape[axis]!, 0);
  const data = new Float64Array(outer * total * inner);
  let offset = 0;
  for (const x of xs) {
    const len = x.shape[axis]!;
    for (let o = 0; o < outer; o++) {
      for (let a = 0; a < len; a++) {
        for (let i = 0; i < inner; i++) {
          data[(o * total + offset + a) * inner + i] = x.data[(o * len + a) * inner + i]!;
        }
      }
    }
    offset += len;
  }
  const shape = [...first.shape];
  shape[axis] = total;
  return { data, shape };
}

/** Slice [start, start + length) of `axis`. */
export function sliceReference(x: HostTensor, axis: number, start: number, length: number): HostTensor {
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const total = x.shape[axis]!;
  const data = new Float64Array(outer * length * inner);
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < length; a++) {
      for (let i = 0; i < inner; i++) {
        data[(o * length + a) * inner + i] = x.data[(o * total + start + a) * inner + i]!;
      }
    }
  }
  const shape = [...x.shape];
  shape[axis] = length;
  return { data, shape };
}

/** Nearest-neighbour ×2 upsampling of [N, C, H, W]. */
export function upsampleNearest2xReference(x: HostTensor): HostTensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const data = new Float64Array(n * c * 4 * h * w);
  for (let p = 0; p < n * c; p++) {
    for (let yy = 0; yy < 2 * h; yy++) {
      for (let xx = 0; xx < 2 * w; xx++) {
        data[(p * 2 * h + yy) * 2 * w + xx] = x.data[(p * h + (yy >> 1)) * w + (xx >> 1)]!;
      }
    }
  }
  return { data, shape: [n, c, 2 * h, 2 * w] };
}

/** 2×2 average pooling with stride 2 of [N, C, H, W] (H, W even). */
export function avgPool2xReference(x: HostTensor): HostTensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const data = new Float64Array((n * c * h * w) / 4);
  for (let p = 0; p < n * c; p++) {
    for (let yy = 0; yy < h / 2; yy++) {
      for (let xx = 0; xx < w / 2; xx++) {
        let acc = 0;
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
          acc += x.data[(p * h + 2 * yy + dy) * w + 2 * xx + dx]!;
        }
        data[(p * (h / 2) + yy) * (w / 2) + xx] = acc / 4;
      }
    }
  }
  return { data, shape: [n, c, h / 2, w / 2] };
}

/**
 * The PyTorch SR3 reference `PositionalEncoding(dim)`: count = dim/2, f_k = exp(−ln(1e4)·k/count),
 * out = [sin(γ·f_k) for k] ++ [cos(γ·f_k) for k].
 */
export function noiseLevelEncodingReference(levels: HostTensor, dim: number): HostTensor {
  const count = dim / 2;
  const n = levels.data.length;
  const data = new Float64Array(n * dim);
  for (let s = 0; s < n; s++) {
    for (let k = 0; k < count; k++) {
      const angle = levels.data[s]! * Math.exp(-Math.log(1e4) * (k / count));
      data[s * dim + k] = Math.sin(angle);
      data[s * dim + count + k] = Math.cos(angle);
    }
  }
  return { data, shape: [n, dim] };
}

/**
 * The exact gradient of {@link attentionReference} with respect to qkv given dOut [N, C, H, W], from
 * the closed form (dV = dO·P, dS = P ∘ (dP − rowsum(dP ∘ P)) with dP = dOᵀV, dQ = K·dSᵀ/√C,
 * dK = Q·dS/√C): cheaper than finite differences at sizes that exercise several GPU tiles.
 */
export function attentionBackwardReference(qkv: HostTensor, gradOut: HostTensor): HostTensor {
  const [n, c3] = qkv.shape as [number, number];
  const c = c3 / 3;
  const l = qkv.data.length / (n * c3);
  const scale = 1 / Math.sqrt(c);
  const grad = new Float64Array(qkv.data.length);
  const probs = new Float64Array(l * l);
  const gradScores = new Float64Array(l * l);
  for (let s = 0; s < n; s++) {
    const at = (block: number, ch: number, token: number): number => ((s * 3 + block) * c + ch) * l + token;
    const dO = (ch: number, token: number): number => gradOut.data[(s * c + ch) * l + token]!;
    for (let i = 0; i < l; i++) {
      let max = -Infinity;
      for (let j = 0; j < l; j++) {
        let dot = 0;
        for (let ch = 0; ch < c; ch++) dot += qkv.data[at(0, ch, i)]! * qkv.data[at(1, ch, j)]!;
        probs[i * l + j] = dot * scale;
        max = Math.max(max, dot * scale);
      }
      let total = 0;
      for (let j = 0; j < l; j++) total += probs[i * l + j] = Math.exp(probs[i * l + j]! - max);
      for (let j = 0; j < l; j++) probs[i * l + j] = probs[i * l + j]! / total;
      let rowDot = 0;
      for (let j = 0; j < l; j++) {
        let dP = 0;
        for (let ch = 0; ch < c; ch++) dP += dO(ch, i) * qkv.data[at(2, ch, j)]!;
        gradScores[i * l + j] = dP;
        rowDot += dP * probs[i * l + j]!;
      }
      for (let j = 0; j < l; j++) {
        gradScores[i * l + j] = probs[i * l + j]! * (gradScores[i * l + j]! - rowDot) * scale;
      }
    }
    for (let ch = 0; ch < c; ch++) {
      for (let t = 0; t < l; t++) {
        let dq = 0;
        let dk = 0;
        let dv = 0;
        for (let u = 0; u < l; u++) {
          dq += gradScores[t * l + u]! * qkv.data[at(1, ch, u)]!;
          dk += gradScores[u * l + t]! * qkv.data[at(0, ch, u)]!;
          dv += dO(ch, u) * probs[u * l + t]!;
        }
        grad[at(0, ch, t)] = dq;
        grad[at(1, ch, t)] = dk;
        grad[at(2, ch, t)] = dv;
      }
    }
  }
  return { data: grad, shape: [...qkv.shape] };
}
