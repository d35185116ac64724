/**
 * Noise schedules of SR3 and the tables derived from them, in float64 on the CPU.
 *
 * Formulas follow the PyTorch SR3 reference (`make_beta_schedule` in
 * Janspiry/Image-Super-Resolution-via-Iterative-Refinement, `model/sr3_modules/diffusion.py`), whose
 * names arcgis.learn shares; `cosine` is Nichol & Dhariwal (2021), eq. 17.
 * @module
 */

/** The schedule names users of arcgis.learn / the reference know. */
export type ScheduleName = "linear" | "warmup10" | "warmup50" | "const" | "jsd" | "cosine" | "quad";

/** Every {@link ScheduleName}, for argument validation. */
export const SCHEDULE_NAMES: readonly ScheduleName[] = [
  "linear",
  "warmup10",
  "warmup50",
  "const",
  "jsd",
  "cosine",
  "quad",
];

function linspace(start: number, end: number, count: number): Float64Array {
  const out = new Float64Array(count);
  if (count === 1) {
    out[0] = start;
    return out;
  }
  for (let i = 0; i < count; i++) out[i] = start + ((end - start) * i) / (count - 1);
  return out;
}

/**
 * β_1..β_T of a named schedule over `nTimestep` steps, exactly as the reference computes them:
 * - linear: linspace(linearStart, linearEnd, T)
 * - quad: linspace(√linearStart, √linearEnd, T)²
 * - warmup10 / warmup50: linearEnd everywhere, the first ⌊0.1·T⌋ / ⌊0.5·T⌋ = linspace(start, end, that count)
 * - const: linearEnd everywhere
 * - jsd: 1 / linspace(T, 1, T) (so β_T = 1 and ᾱ_T = 0)
 * - cosine: s = 0.008, a(t) = cos(((t/T) + s)/(1 + s)·π/2)², β_t = min(1 − a(t+1)/a(t), 0.999)
 */
export function makeBetaSchedule(
  schedule: ScheduleName,
  nTimestep: number,
  linearStart = 1e-6,
  linearEnd = 1e-2,
): Float64Array {
  if (!Number.isInteger(nTimestep) || nTimestep < 1) {
    throw new RangeError(`nTimestep must be a positive integer, got ${nTimestep}`);
  }
  const warmup = (fraction: number): Float64Array => {
    const betas = new Float64Array(nTimestep).fill(linearEnd);
    const count = Math.floor(nTimestep * fraction);
    betas.set(linspace(linearStart, linearEnd, count), 0);
    return betas;
  };
  switch (schedule) {
    case "linear":
      return linspace(linearStart, linearEnd, nTimestep);
    case "quad":
      return linspace(Math.sqrt(linearStart), Math.sqrt(linearEnd), nTimestep).map((v) => v * v);
    case "warmup10":
      return warmup(0.1);
    case "warmup50":
      return warmup(0.5);
    case "const":
      return new Float64Array(nTimestep).fill(linearEnd);
    case "jsd":
      return linspace(nTimestep, 1, nTimestep).map((v) => 1 / v);
    case "cosine": {
      const s = 0.008;
      const a = (t: number): number => Math.cos(((t / nTimestep + s) / (1 + s)) * Math.PI / 2) ** 2;
      return Float64Array.from({ length: nTimestep }, (_, t) => Math.min(1 - a(t + 1) / a(t), 0.999));
    }
    default:
      throw new RangeError(`unknown schedule "${schedule}"; expected one of ${SCHEDULE_NAMES.join(", ")}`);
  }
}

/** The tables a schedule induces (all float64, index t−1 for step t unless noted). */
export interface ScheduleTables {
  /** β_t. */
  betas: Float64Array;
  /** ᾱ_t = Π_{s≤t} (1 − β_s). */
  alphasCumprod: Float64Array;
  /** ᾱ_{t−1}, with ᾱ_0 = 1. */
  alphasCumprodPrev: Float64Array;
  /** √[1, ᾱ_1, …, ᾱ_T] (length T+1): the continuous noise level γ's piecewise bounds (SR3 §2.4). */
  sqrtAlphasCumprodPrev: Float64Array;
  /** Posterior q(x_{t−1} | x_t, x_0) variance β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t) ("fixed small"). */
  posteriorVariance: Float64Array;
  /** Posterior mean coefficient of x_0: β_t √ᾱ_{t−1} / (1 − ᾱ_t). */
  posteriorMeanCoef1: Float64Array;
  /** Posterior mean coefficient of x_t: (1 − ᾱ_{t−1}) √(1 − β_t) / (1 − ᾱ_t). */
  posteriorMeanCoef2: Float64Array;
}

/**
 * Derives ᾱ, √ᾱ_prev and the posterior coefficients from β. Where 1 − ᾱ_t = 0 (only possible when
 * β_1 = 0) the posterior terms are defined by their limits, so no table holds NaN; `jsd`'s ᾱ_T = 0 is
 * an ordinary value here.
 */
export function scheduleTables(betas: Float64Array): ScheduleTables {
  const T = betas.length;
  const alphasCumprod = new Float64Array(T);
  let product = 1;
  for (let t = 0; t < T; t++) {
    product *= 1 - betas[t]!;
    alphasCumprod[t] = product;
  }
  const alphasCumprodPrev = new Float64Array(T);
  alphasCumprodPrev[0] = 1;
  alphasCumprodPrev.set(alphasCumprod.subarray(0, T - 1), 1);
  const sqrtAlphasCumprodPrev = new Float64Array(T + 1);
  sqrtAlphasCumprodPrev[0] = 1;
  for (let t = 0; t < T; t++) sqrtAlphasCumprodPrev[t + 1] = Math.sqrt(alphasCumprod[t]!);
  const posteriorVariance = new Float64Array(T);
  const posteriorMeanCoef1 = new Float64Array(T);
  const posteriorMeanCoef2 = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const beta = betas[t]!;
    const oneMinus = 1 - alphasCumprod[t]!;
    const prev = alphasCumprodPrev[t]!;
    if (oneMinus > 0) {
      posteriorVariance[t] = (beta * (1 - prev)) / oneMinus;
      posteriorMeanCoef1[t] = (beta * Math.sqrt(prev)) / oneMinus;
      posteriorMeanCoef2[t] = ((1 - prev) * Math.sqrt(1 - beta)) / oneMinus;
    } else {
      // β_1 = 0: x_{t-1} = x_t = x_0 exactly.
      posteriorMeanCoef1[t] = 1;
    }
  }
  return {
    betas,
    alphasCumprod,
    alphasCumprodPrev,
    sqrtAlphasCumprodPrev,
    posteriorVariance,
    posteriorMeanCoef1,
    posteriorMeanCoef2,
  };
}

/** A schedule as stored in a model: its name, length and endpoints. */
export interface ScheduleConfig {
  /** Schedule kind. */
  schedule: ScheduleName;
  /** T, the number of training noise levels. */
  nTimestep: number;
  /** β_1 for linear-family schedules. */
  linearStart: number;
  /** β_T for linear-family schedules. */
  linearEnd: number;
}

/** β and derived tables of a stored schedule configuration. */
export function buildSchedule(config: ScheduleConfig): ScheduleTables {
  return scheduleTables(
    makeBetaSchedule(config.schedule, config.nTimestep, config.linearStart, config.linearEnd),
  );
}

/**
 * Draws per-sample continuous noise levels as SR3 §2.4 trains: t ~ U{1..T}, then
 * γ ~ U(√ᾱ_t, √ᾱ_{t−1}) (the reference draws between `sqrt_alphas_cumprod_prev[t-1]` and `[t]`).
 * γ is what the network is conditioned on, and x_noisy = γ·x₀ + √(1 − γ²)·ε.
 */
export function sampleNoiseLevels(tables: ScheduleTables, batch: number, random: () => number): Float32Array {
  const T = tables.betas.length;
  const bounds = tables.sqrtAlphasCumprodPrev;
  const levels = new Float32Array(batch);
  for (let i = 0; i < batch; i++) {
    const t = 1 + Math.min(T - 1, Math.floor(random() * T));
    const hi = bounds[t - 1]!;
    const lo = bounds[t]!;
    levels[i] = lo + (hi - lo) * random();
  }
  return levels;
}
