/**
 * Antialiased bicubic resampling of band-sequential float images, numerically the same as Pillow's
 * `Image.resize(size, Image.BICUBIC)` on float ("F") images: Keys' cubic with a = −0.5, the kernel
 * stretched by the scale when downsampling (so it averages, i.e. antialiases), separable (horizontal pass,
 * then vertical), weights truncated at the image border and renormalised to sum to 1 (Pillow's
 * `precompute_coeffs` in libImaging/Resample.c). {@link resizeBicubicUint8} is Pillow's 8-bit path on
 * uint8 images ("L", "RGB"): the same weights in fixed point, rounded to uint8 after each pass. The SR3
 * reference builds its low-resolution inputs that way (PIL images), so sr3 makes LR data from uint8
 * rasters with it; the float path differs from it by one level in about 10 % of samples.
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
      // Times the reciprocal, as Pillow computes it (a division can differ in the last bit).
      const w = bicubicKernel((i - center + 0.5) * (1 / filterScale));
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

/** The band count of a resize's input. @throws {RangeError} for a partial band or an empty output */
function checkResize(
  name: string,
  length: number,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): number {
  const bands = length / (width * height);
  if (!Number.isInteger(bands)) {
    throw new RangeError(`${name}: ${length} samples is not a whole number of ${width}×${height} bands`);
  }
  if (!(outWidth >= 1 && outHeight >= 1)) {
    throw new RangeError(`${name}: output size ${outWidth}×${outHeight}`);
  }
  return bands;
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
  const bands = checkResize("resizeBicubic", data.length, width, height, outWidth, outHeight);
  const horizontal = resizeRows(data, bands * height, width, outWidth);
  const result = resizeColumns(horizontal, bands, outWidth, height, outHeight);
  return result === data ? data.slice() : result;
}

/** Fixed-point fraction bits of Pillow's 8-bit resampling (`PRECISION_BITS` = 32 − 8 − 2). */
const PRECISION_BITS = 22;

/**
 * One 8-bit pass of Pillow's `ImagingResample{Horizontal,Vertical}_8bpc` along the middle axis of a
 * `[outer][inSize][inner]` array: weights rounded half away from zero to 22-bit fixed point
 * (`normalize_coeffs_8bpc`), a half added for rounding, the sum shifted back and clamped to 0..255.
 */
function resampleAxisUint8(
  src: Uint8Array,
  outer: number,
  inSize: number,
  outSize: number,
  inner: number,
): Uint8Array {
  if (inSize === outSize) return src;
  const { start, count, weights, taps } = axisWeights(inSize, outSize);
  const one = 2 ** PRECISION_BITS;
  const fixed = Int32Array.from(weights, (w) => Math.trunc(w < 0 ? w * one - 0.5 : w * one + 0.5));
  const out = new Uint8Array(outer * outSize * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < outSize; j++) {
      const k = j * taps;
      const n = count[j]!;
      for (let x = 0; x < inner; x++) {
        const first = (o * inSize + start[j]!) * inner + x;
        let sum = one / 2;
        for (let i = 0; i < n; i++) sum += src[first + i * inner]! * fixed[k + i]!;
        // The sum fits in 32 bits, so >> floors it as C's arithmetic shift does.
        out[(o * outSize + j) * inner + x] = Math.min(255, Math.max(0, sum >> PRECISION_BITS));
      }
    }
  }
  return out;
}

/**
 * Resizes uint8 band-sequential pixels bit-for-bit as Pillow 9's `Image.resize(size, Image.BICUBIC)` does
 * on 8-bit images: {@link resizeBicubic}'s weights in fixed point, horizontal pass, rounded to uint8, then
 * vertical pass, rounded again (libImaging/Resample.c, `*_8bpc`).
 * @param data band-sequential uint8 pixels (values 0..255), length bands·width·height
 * @param width input width
 * @param height input height
 * @param outWidth output width
 * @param outHeight output height
 * @returns band-sequential uint8 output, length bands·outWidth·outHeight
 */
export function resizeBicubicUint8(
  data: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  const bands = checkResize("resizeBicubicUint8", data.length, width, height, outWidth, outHeight);
  const horizontal = resampleAxisUint8(data, bands * height, width, outWidth, 1);
  const result = resampleAxisUint8(horizontal, bands, height, outHeight, outWidth);
  return result === data ? data.slice() : result;
}

/**
 * Resizes an image whose pixels are partly invalid (nodata) without letting nodata values bleed in:
 * normalised convolution, i.e. resize(value·valid) / resize(valid). An output pixel is valid when at least
 * half of its kernel weight fell on valid input; invalid outputs are 0.
 * With `uint8` set and every pixel valid, the result is Pillow's 8-bit path ({@link resizeBicubicUint8});
 * with nodata it stays the float path (Pillow has no nodata), for the caller to round.
 * @param data band-sequential pixels
 * @param valid per-pixel validity (1 valid, 0 nodata), length width·height
 * @param options `uint8`: the pixels are uint8 values (0..255), as a uint8 raster's are
 * @returns the resized pixels and their validity
 */
export function resizeBicubicMasked(
  data: Float32Array,
  valid: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  options: { uint8?: boolean } = {},
): { data: Float32Array; valid: Uint8Array } {
  const pixels = width * height;
  if (valid.every((v) => v === 1)) {
    const resized = options.uint8
      ? Float32Array.from(resizeBicubicUint8(Uint8Array.from(data), width, height, outWidth, outHeight))
      : resizeBicubic(data, width, height, outWidth, outHeight);
    return { data: resized, valid: new Uint8Array(outWidth * outHeight).fill(1) };
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
