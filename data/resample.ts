/**
 * Antialiased bicubic resampling of band-sequential float images, numerically the same as Pillow's
 * `Image.resize(size, Image.BICUBIC)` on float ("F") images: Keys' cubic with a = −0.5, the kernel
 * stretched by the scale when downsampling (so it averages, i.e. antialiases), separable (horizontal pass,
 * then vertical), weights truncated at the image border and renormalised to sum to 1 (Pillow's
 * `precompute_coeffs` in libImaging/Resample.c). The SR3 reference builds its low-resolution inputs and
 * bicubic conditions this way, so data made here matches what its models were trained on.
 * @module
 */

/** Keys' cubic convolution kernel with a = −0.5 (Pillow's `bicubic_filter`), support 2. */
function bicubicKernel(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** Per output index: the first input index and the normalised weights of the inputs from there. */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  taps: number;
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const first = Math.max(0, Math.trunc(center - support + 0.5));
    const last = Math.min(inSize, Math.trunc(center + support + 0.5));
    let total = 0;
    for (let i = first; i < last; i++) {
      const w = bicubicKernel((i - center + 0.5) / filterScale);
      weights[o * taps + i - first] = w;
      total += w;
    }
    if (total !== 0) {
      for (let i = o * taps; i < o * taps + last - first; i++) weights[i] = weights[i]! / total;
    }
    start[o] = first;
    count[o] = last - first;
  }
  return { start, count, weights, taps };
}

function resizeRows(src: Float32Array, rows: number, inWidth: number, outWidth: number): Float32Array {
  if (inWidth === outWidth) return src;
  const { start, count, weights, taps } = axisWeights(inWidth, outWidth);
  const out = new Float32Array(rows * outWidth);
  for (let r = 0; r < rows; r++) {
    const rowBase = r * inWidth;
    for (let o = 0; o < outWidth; o++) {
      const first = rowBase + start[o]!;
      const n = count[o]!;
      const k = o * taps;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += src[first + i]! * weights[k + i]!;
      out[r * outWidth + o] = sum;
    }
  }
  return out;
}

function resizeColumns(
  src: Float32Array,
  planes: number,
  width: number,
  inHeight: number,
  outHeight: number,
): Float32Array {
  if (inHeight === outHeight) return src;
  const { start, count, weights, taps } = axisWeights(inHeight, outHeight);
  const out = new Float32Array(planes * outHeight * width);
  const sums = new Float64Array(width);
  for (let p = 0; p < planes; p++) {
    const planeIn = p * inHeight * width;
    for (let o = 0; o < outHeight; o++) {
      sums.fill(0);
      const k = o * taps;
      for (let i = 0; i < count[o]!; i++) {
        const w = weights[k + i]!;
        const rowBase = planeIn + (start[o]! + i) * width;
        for (let x = 0; x < width; x++) sums[x] = sums[x]! + src[rowBase + x]! * w;
      }
      out.set(sums, (p * outHeight + o) * width);
    }
  }
  return out;
}

/**
 * Resizes a band-sequential image (`[band][row][column]`) with Pillow-equivalent antialiased bicubic.
 * @param data band-sequential pixels, length bands·width·height
 * @param width input width
 * @param height input height
 * @param outWidth output width
 * @param outHeight output height
 * @returns band-sequential output, length bands·outWidth·outHeight
 */
export function resizeBicubic(
  data: Float32Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  const bands = data.length / (width * height);
  if (!Number.isInteger(bands)) {
    throw new RangeError(
      `resizeBicubic: ${data.length} samples is not a whole number of ${width}×${height} bands`,
    );
  }
  if (!(outWidth >= 1 && outHeight >= 1)) {
    throw new RangeError(`resizeBicubic: output size ${outWidth}×${outHeight}`);
  }
  const horizontal = resizeRows(data, bands * height, width, outWidth);
  const result = resizeColumns(horizontal, bands, outWidth, height, outHeight);
  return result === data ? data.slice() : result;
}

/**
 * Resizes an image whose pixels are partly invalid (nodata) without letting nodata values bleed in:
 * normalised convolution, i.e. resize(value·valid) / resize(valid). An output pixel is valid when at least
 * half of its kernel weight fell on valid input; invalid outputs are 0.
 * @param data band-sequential pixels
 * @param valid per-pixel validity (1 valid, 0 nodata), length width·height
 * @returns the resized pixels and their validity
 */
export function resizeBicubicMasked(
  data: Float32Array,
  valid: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): { data: Float32Array; valid: Uint8Array } {
  const pixels = width * height;
  if (valid.every((v) => v === 1)) {
    return {
      data: resizeBicubic(data, width, height, outWidth, outHeight),
      valid: new Uint8Array(outWidth * outHeight).fill(1),
    };
  }
  const bands = data.length / pixels;
  const masked = new Float32Array(data.length);
  for (let b = 0; b < bands; b++) {
    for (let i = 0; i < pixels; i++) masked[b * pixels + i] = valid[i] ? data[b * pixels + i]! : 0;
  }
  const weight = resizeBicubic(Float32Array.from(valid), width, height, outWidth, outHeight);
  const numerator = resizeBicubic(masked, width, height, outWidth, outHeight);
  const outPixels = outWidth * outHeight;
  const outValid = new Uint8Array(outPixels);
  for (let i = 0; i < outPixels; i++) outValid[i] = weight[i]! >= 0.5 ? 1 : 0;
  for (let b = 0; b < bands; b++) {
    for (let i = 0; i < outPixels; i++) {
      numerator[b * outPixels + i] = outValid[i] ? numerator[b * outPixels + i]! / weight[i]! : 0;
    }
  }
  return { data: numerator, valid: outValid };
}

/** Nearest-neighbour enlargement of a per-pixel mask by an integer factor (nodata at the finer scale). */
export function enlargeMask(mask: Uint8Array, width: number, height: number, factor: number): Uint8Array {
  const outWidth = width * factor;
  const out = new Uint8Array(outWidth * height * factor);
  for (let y = 0; y < height * factor; y++) {
    const sourceRow = Math.floor(y / factor) * width;
    for (let x = 0; x < outWidth; x++) out[y * outWidth + x] = mask[sourceRow + Math.floor(x / factor)]!;
  }
  return out;
}
