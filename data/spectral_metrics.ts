/**
 * Remote-sensing quality metrics that PSNR and SSIM miss: the spectral angle mapper (colour / band-ratio
 * fidelity), ERGAS (Wald 2000, band-normalised error that accounts for the resolution ratio) and the
 * high-frequency energy ratio (does the output have the fine texture of the reference, or is it blurred,
 * or noisy?). Images are band-sequential (`[band][row][column]`) uint8, float32 or float64 arrays; metrics.ts
 * calls these on the same uint8 conversion that PSNR/SSIM use, so values are in 0..255 units.
 * @module
 */
import { FFT } from "../deps.ts";

/** Band-sequential samples (`[band][row][column]`). */
export type Samples = Uint8Array | Float32Array | Float64Array;

/** Largest patch side of the Welch spectrum estimate (pixels, a power of two). */
export const SPECTRUM_PATCH = 64;
/** Smallest image side for which {@link radialPowerSpectrum} is defined (pixels). */
export const SPECTRUM_MIN_SIDE = 8;

function bandCount(a: Samples, b: Samples, width: number, height: number, what: string): number {
  if (a.length !== b.length) {
    throw new RangeError(`${what}: images differ in size (${a.length} vs ${b.length} samples)`);
  }
  const bands = a.length / (width * height);
  if (!Number.isInteger(bands) || bands < 1) {
    throw new RangeError(`${what}: ${a.length} samples is not a whole number of ${width}×${height} bands`);
  }
  return bands;
}

/**
 * Spectral angle mapper (Kruse et al. 1993): for every pixel, the angle between the band vectors x (output)
 * and y (reference), arccos(⟨x, y⟩ / (‖x‖·‖y‖)), in degrees, averaged over the pixels where both norms are
 * non-zero (an all-zero pixel has no direction). Symmetric in its arguments; 0 for identical images;
 * insensitive to a per-pixel brightness scale, sensitive to changes in band ratios (colour shifts).
 * @param a first image, band-sequential
 * @param b second image, same shape
 * @param mask one flag per pixel: only pixels flagged 1 count (default: all)
 * @returns the mean angle in degrees, or NaN when no pixel has two non-zero vectors
 * @throws {RangeError} when the sizes differ or are not whole bands of width·height
 */
export function spectralAngleMapper(
  a: Samples,
  b: Samples,
  width: number,
  height: number,
  mask: Uint8Array | null = null,
): number {
  const bands = bandCount(a, b, width, height, "sam");
  const pixels = width * height;
  let total = 0;
  let valid = 0;
  for (let p = 0; p < pixels; p++) {
    if (mask && !mask[p]) continue;
    let dot = 0;
    let aa = 0;
    let bb = 0;
    for (let c = 0; c < bands; c++) {
      const x = a[c * pixels + p]!;
      const y = b[c * pixels + p]!;
      dot += x * y;
      aa += x * x;
      bb += y * y;
    }
    if (aa === 0 || bb === 0) continue;
    // √(aa·bb) rather than √aa·√bb: for integer samples aa·bb is exact, so identical pixels give
    // exactly cos = 1 and 0°. The clamp only removes rounding beyond ±1.
    const cosine = Math.min(1, Math.max(-1, dot / Math.sqrt(aa * bb)));
    total += Math.acos(cosine);
    valid++;
  }
  return valid === 0 ? Number.NaN : (total / valid) * (180 / Math.PI);
}

/**
 * ERGAS, "erreur relative globale adimensionnelle de synthèse" (Wald 2000, "Quality of high
 * resolution synthesised images: is there a simple criterion?", Fusion of Earth Data, pp. 99–103): 100 · (h/l) · √((1/K) Σ_k (RMSE_k / μ_k)²), where h/l = 1/factor
 * is the ratio of the high- to the low-resolution pixel size, RMSE_k the root-mean-square difference of
 * band k between output and reference, and μ_k the mean of reference band k. Lower is better, 0 when
 * identical. Bands whose reference mean is 0 (e.g. an empty band) have no relative error and are left out
 * of the K bands averaged.
 * @param output the image being scored, band-sequential
 * @param reference the true high-resolution image, same shape
 * @param factor the super-resolution factor (4 for ×4), ≥ 1
 * @returns ERGAS, or NaN when every reference band has mean 0
 * @throws {RangeError} for mismatched sizes or a factor below 1
 */
export function ergas(
  output: Samples,
  reference: Samples,
  width: number,
  height: number,
  factor: number,
): number {
  const bands = bandCount(output, reference, width, height, "ergas");
  checkFactor(factor, "ergas");
  const pixels = width * height;
  let sum = 0;
  let counted = 0;
  for (let c = 0; c < bands; c++) {
    let squared = 0;
    let mean = 0;
    for (let i = c * pixels; i < (c + 1) * pixels; i++) {
      const d = output[i]! - reference[i]!;
      squared += d * d;
      mean += reference[i]!;
    }
    mean /= pixels;
    if (mean === 0) continue;
    sum += squared / pixels / (mean * mean);
    counted++;
  }
  return counted === 0 ? Number.NaN : (100 / factor) * Math.sqrt(sum / counted);
}

function checkFactor(factor: number, what: string): void {
  if (!(Number.isFinite(factor) && factor >= 1)) {
    throw new RangeError(`${what}: the scale factor must be a number ≥ 1, got ${factor}`);
  }
}

/** Patch side used for an image of this size: min(64, the largest power of two ≤ the shorter side). */
export function spectrumPatchSize(width: number, height: number): number {
  const side = Math.min(width, height);
  if (!(side >= SPECTRUM_MIN_SIDE)) {
    throw new RangeError(
      `power spectrum: image ${width}×${height} is smaller than ${SPECTRUM_MIN_SIDE}×${SPECTRUM_MIN_SIDE}`,
    );
  }
  return Math.min(SPECTRUM_PATCH, 2 ** Math.floor(Math.log2(side)));
}

/** A radially averaged power spectrum; bin k holds the frequencies whose radius rounds to k DFT bins. */
export interface RadialSpectrum {
  /** Patch side P: bin k is the normalised radial frequency k/(P/2) (1 = the Nyquist frequency). */
  patchSize: number;
  /** Number of patches averaged. */
  patches: number;
  /** Mean power per radial bin, k = 0 … round(P/√2) (bins above P/2 hold the spectrum's corners). */
  power: Float64Array;
  /** Number of 2-D frequencies in each bin (they sum to P²). */
  counts: Float64Array;
}

interface SpectrumPlan {
  size: number;
  fft: FFT;
  window: Float64Array;
  windowEnergy: number;
  /** Radial bin of the half-plane frequency (kx = 0…P/2, ky row j = 0…P−1), and its Hermitian weight. */
  bin: Int32Array;
  weight: Float64Array;
  /** Number of full-plane frequencies per bin. */
  binCount: Float64Array;
}

const plans = new Map<number, SpectrumPlan>();

function spectrumPlan(size: number): SpectrumPlan {
  const cached = plans.get(size);
  if (cached) return cached;
  // Periodic Hann window (the DFT-even form used for spectral estimation), applied separably.
  const hann = Float64Array.from({ length: size }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
  const window = new Float64Array(size * size);
  let windowEnergy = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      window[y * size + x] = hann[y]! * hann[x]!;
      windowEnergy += (hann[y]! * hann[x]!) ** 2;
    }
  }
  const half = size / 2;
  const columns = half + 1;
  const bin = new Int32Array(columns * size);
  const weight = new Float64Array(columns * size);
  const binCount = new Float64Array(Math.round(half * Math.SQRT2) + 1);
  for (let kx = 0; kx < columns; kx++) {
    for (let j = 0; j < size; j++) {
      const ky = j < half ? j : j - size;
      const k = Math.round(Math.hypot(kx, ky));
      // A real patch's spectrum is Hermitian: (−kx, −ky) has the same power and radius as (kx, ky), so
      // the columns 0 < kx < P/2 stand for two frequencies each; kx = 0 and kx = P/2 for themselves.
      const w = kx === 0 || kx === half ? 1 : 2;
      bin[kx * size + j] = k;
      weight[kx * size + j] = w;
      binCount[k] = binCount[k]! + w;
    }
  }
  const plan = { size, fft: new FFT(size), window, windowEnergy, bin, weight, binCount };
  plans.set(size, plan);
  return plan;
}

/**
 * Radially averaged power spectrum of one band (Welch's method in 2-D): P×P patches on a grid with 50%
 * overlap (offsets 0, P/2, P, … that fit; a remainder narrower than P/2 at the right and bottom is not
 * covered), P = {@link spectrumPatchSize}. Each patch has its mean removed, is multiplied by a separable
 * periodic Hann window w, and its 2-D DFT power |X(kx, ky)|² / Σw² is averaged over the patches, so that the
 * mean over all P² frequencies is the window-weighted variance (Parseval). Frequencies are then averaged in
 * radial bins k = round(√(kx² + ky²)), kx, ky ∈ [−P/2, P/2), k = 0 … round(P/√2); every frequency, corners
 * included, belongs to exactly one bin.
 * @param plane one band, row-major, length width·height
 * @throws {RangeError} when the image is smaller than 8×8
 */
export function radialPowerSpectrum(plane: Samples, width: number, height: number): RadialSpectrum {
  if (plane.length !== width * height) {
    throw new RangeError(`power spectrum: ${plane.length} samples is not one ${width}×${height} band`);
  }
  const size = spectrumPatchSize(width, height);
  const plan = spectrumPlan(size);
  const { fft, window, bin, weight, binCount } = plan;
  const columns = size / 2 + 1;
  const stride = size / 2;
  const patch = new Float64Array(size * size);
  const rowIn = new Float64Array(size);
  const rowOut = new Float64Array(2 * size);
  // One interleaved complex column per kept kx, filled row by row (no allocation per patch).
  const columnsIn = Array.from({ length: columns }, () => new Float64Array(2 * size));
  const columnOut = new Float64Array(2 * size);
  const power = new Float64Array(columns * size);
  let patches = 0;
  for (let top = 0; top + size <= height; top += stride) {
    for (let left = 0; left + size <= width; left += stride) {
      let mean = 0;
      for (let y = 0; y < size; y++) {
        const from = (top + y) * width + left;
        for (let x = 0; x < size; x++) {
          const v = plane[from + x]!;
          patch[y * size + x] = v;
          mean += v;
        }
      }
      mean /= size * size;
      // Rows: real FFTs of the windowed, mean-removed rows (fft.js fills the half spectrum kx = 0 … P/2,
      // all that the columns need).
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) rowIn[x] = (patch[y * size + x]! - mean) * window[y * size + x]!;
        fft.realTransform(rowOut, rowIn);
        for (let kx = 0; kx < columns; kx++) {
          const column = columnsIn[kx]!;
          column[2 * y] = rowOut[2 * kx]!;
          column[2 * y + 1] = rowOut[2 * kx + 1]!;
        }
      }
      // Columns: complex FFTs over y of each kept kx.
      for (let kx = 0; kx < columns; kx++) {
        fft.transform(columnOut, columnsIn[kx]!);
        for (let j = 0; j < size; j++) {
          const re = columnOut[2 * j]!;
          const im = columnOut[2 * j + 1]!;
          power[kx * size + j] = power[kx * size + j]! + re * re + im * im;
        }
      }
      patches++;
    }
  }
  const radial = new Float64Array(binCount.length);
  for (let i = 0; i < power.length; i++) radial[bin[i]!] = radial[bin[i]!]! + weight[i]! * power[i]!;
  const scale = 1 / (patches * plan.windowEnergy);
  for (let k = 0; k < radial.length; k++) radial[k] = (radial[k]! * scale) / binCount[k]!;
  return { patchSize: size, patches, power: radial, counts: binCount.slice() };
}

/** Power in the radial bins above the low-resolution Nyquist frequency, k > (P/2)/factor. */
function highFrequencyEnergy(spectrum: RadialSpectrum, factor: number): number {
  const cutoff = spectrum.patchSize / 2 / factor;
  let energy = 0;
  for (let k = Math.floor(cutoff) + 1; k < spectrum.power.length; k++) {
    energy += spectrum.counts[k]! * spectrum.power[k]!;
  }
  return energy;
}

/**
 * High-frequency energy ratio: how much of the reference's fine detail the output has. For each band, the
 * high-frequency power E = Σ_k n_k·S(k) over the radial bins k > (P/2)/factor of the
 * {@link radialPowerSpectrum} S (n_k frequencies in bin k), i.e. over the normalised radial frequencies
 * above the low-resolution image's Nyquist frequency (HR Nyquist / factor; the spectrum's corners
 * included). By Parseval, E is the variance of the windowed patches' high-pass part, so a sinusoid above
 * the cutoff counts the same at any frequency. The ratio E(output) / E(reference) is averaged over the
 * bands (bands whose reference has E = 0, e.g. a constant band, are left out). About 0 for a blurred
 * output (bicubic upsampling has almost nothing there), about 1 for texture with the reference's amount of
 * detail (what SR3 aims for, even where the details differ), above 1 for noise or ringing. Phase-blind: it
 * measures how much detail there is, not whether it is the right detail (PSNR/SSIM do that).
 * @param output the image being scored, band-sequential
 * @param reference the true high-resolution image, same shape, at least 8×8
 * @param factor the super-resolution factor (4 for ×4), ≥ 1
 * @returns the mean ratio, or NaN when no reference band has high-frequency energy
 * @throws {RangeError} for mismatched sizes, images under 8×8 or a factor below 1
 */
export function highFrequencyRatio(
  output: Samples,
  reference: Samples,
  width: number,
  height: number,
  factor: number,
): number {
  const bands = bandCount(output, reference, width, height, "high-frequency ratio");
  checkFactor(factor, "high-frequency ratio");
  const pixels = width * height;
  let sum = 0;
  let counted = 0;
  for (let c = 0; c < bands; c++) {
    const referencePlane = reference.subarray(c * pixels, (c + 1) * pixels);
    const target = highFrequencyEnergy(radialPowerSpectrum(referencePlane, width, height), factor);
    // A flat reference band has (up to rounding) no energy to compare against.
    let peak = 0;
    for (const v of referencePlane) peak = Math.max(peak, Math.abs(v));
    if (!(target > 1e-24 * peak * peak)) continue;
    const outputPlane = output.subarray(c * pixels, (c + 1) * pixels);
    sum += highFrequencyEnergy(radialPowerSpectrum(outputPlane, width, height), factor) / target;
    counted++;
  }
  return counted === 0 ? Number.NaN : sum / counted;
}
