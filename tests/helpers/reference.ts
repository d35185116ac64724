/** Plain TypeScript float64 references for the GPU ops (the ground truth of the op tests). */
import type { HostTensor } from "./check.ts";

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Elementwise f(a, b) with NumPy broadcasting. */
export function broadcastBinary(
  a: HostTensor,
  b: HostTensor,
  f: (u: number, v: number) => number,
): HostTensor {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pa = [...new Array(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...new Array(rank - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]!));
  const sa = strides(pa);
  const sb = strides(pb);
  const so = strides(shape);
  const size = shape.reduce((x, y) => x * y, 1);
  const data = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      const c = Math.floor(i / so[d]!) % shape[d]!;
      if (pa[d] !== 1) ia += c * sa[d]!;
      if (pb[d] !== 1) ib += c * sb[d]!;
    }
    data[i] = f(a.data[ia]!, b.data[ib]!);
  }
  return { data, shape };
}

/** Elementwise f(x). */
export function map(x: HostTensor, f: (v: number) => number): HostTensor {
  return { data: Float64Array.from(x.data, f), shape: [...x.shape] };
}

/** Σ over `axes` (all when omitted), dropping them unless keepDims; scaled by `scale`. */
export function sumAxes(x: HostTensor, axes?: number[], keepDims = false, scale = 1): HostTensor {
  const all = axes ?? x.shape.map((_, i) => i);
  const kept = x.shape.map((d, i) => (all.includes(i) ? 1 : d));
  const sk = strides(kept);
  const sx = strides(x.shape);
  const size = kept.reduce((a, b) => a * b, 1);
  const data = new Float64Array(size);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let d = 0; d < x.shape.length; d++) {
      const c = Math.floor(i / sx[d]!) % x.shape[d]!;
      if (!all.includes(d)) o += c * sk[d]!;
    }
    data[o] = data[o]! + x.data[i]!;
  }
  for (let i = 0; i < size; i++) data[i] = data[i]! * scale;
  const shape = keepDims ? kept : x.shape.filter((_, i) => !all.includes(i));
  return { data, shape: shape.length > 0 ? shape : [1] };
}
