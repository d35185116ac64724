/**
 * Weight initialisation on the CPU in float64: a seeded Gaussian source and orthogonal matrices
 * (Saxe et al. 2014), as the PyTorch SR3 reference initialises every conv and linear weight
 * (`init.orthogonal_(weight, gain=1)`, biases zero).
 * @module
 */

/** A seeded uniform source in [0, 1) (mulberry32: small state, good enough for initialisation and shuffles). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a uniform source (Box–Muller). */
export function gaussian(random: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const u = Math.max(random(), 1e-300);
    const v = random();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}

/**
 * A `rows × cols` matrix (row-major) with orthonormal rows (rows ≤ cols) or orthonormal columns
 * (rows > cols), times `gain` — what `torch.nn.init.orthogonal_` produces for a weight flattened to
 * [out, in·k·k]: QR of a Gaussian matrix with the signs of R's diagonal folded into Q.
 * Modified Gram–Schmidt over the shorter side is the QR here.
 */
export function orthogonalMatrix(rows: number, cols: number, random: () => number, gain = 1): Float32Array {
  const normal = gaussian(random);
  const count = Math.min(rows, cols);
  const length = Math.max(rows, cols);
  const vectors: Float64Array[] = [];
  for (let i = 0; i < count; i++) {
    const v = Float64Array.from({ length }, normal);
    for (const q of vectors) {
      let dot = 0;
      for (let k = 0; k < length; k++) dot += q[k]! * v[k]!;
      for (let k = 0; k < length; k++) v[k] = v[k]! - dot * q[k]!;
    }
    let norm = 0;
    for (let k = 0; k < length; k++) norm += v[k]! * v[k]!;
    norm = Math.sqrt(norm);
    for (let k = 0; k < length; k++) v[k] = v[k]! / norm;
    vectors.push(v);
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < count; i++) {
    const v = vectors[i]!;
    for (let k = 0; k < length; k++) {
      // Short side = rows: vector i is row i. Short side = cols: vector i is column i.
      if (rows <= cols) out[i * cols + k] = gain * v[k]!;
      else out[k * cols + i] = gain * v[k]!;
    }
  }
  return out;
}
