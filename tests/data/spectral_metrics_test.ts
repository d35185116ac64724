/*
 * SAM, ERGAS and the high-frequency energy ratio on cases worked out by hand from the published formulas,
 * and the Welch radial power spectrum against a direct 2-D DFT written out in the test.
 */
import assert from "node:assert/strict";
import { resizeBicubic } from "../../data/resample.ts";
import {
  ergas,
  highFrequencyRatio,
  radialPowerSpectrum,
  spectralAngleMapper,
  spectrumPatchSize,
} from "../../data/spectral_metrics.ts";

/** Band-sequential image from per-pixel band vectors (pixel p, band c → [c][p]). */
function fromPixels(pixels: number[][]): Float64Array {
  const bands = pixels[0]!.length;
  const out = new Float64Array(bands * pixels.length);
  pixels.forEach((vector, p) => vector.forEach((v, c) => out[c * pixels.length + p] = v));
  return out;
}

/** A deterministic uniform generator in [0, 1) (LCG) for test images. */
function generator(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

function image(
  bands: number,
  width: number,
  height: number,
  fn: (c: number, y: number, x: number) => number,
) {
  const out = new Float64Array(bands * width * height);
  for (let c = 0; c < bands; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[(c * height + y) * width + x] = fn(c, y, x);
    }
  }
  return out;
}

Deno.test("SAM: per-pixel angles of known vectors, zero-norm pixels skipped, in degrees", () => {
  // 45° ((1,0,0) vs (1,1,0), each scaled), 90°, 0° (same direction, different length), 60°
  // ((1,1,0)·(0,1,1) = 1 = √2·√2·cos θ), and two pixels with a zero vector that do not count.
  const output = fromPixels([[3, 0, 0], [2, 0, 0], [3, 4, 0], [5, 5, 0], [0, 0, 0], [7, 1, 2]]);
  const reference = fromPixels([[7, 7, 0], [0, 9, 0], [6, 8, 0], [0, 2, 2], [1, 2, 3], [0, 0, 0]]);
  assert.equal(spectralAngleMapper(output, reference, 6, 1), (45 + 90 + 0 + 60) / 4);
  assert.equal(spectralAngleMapper(output, output, 3, 2), 0, "identical images: exactly 0");
  assert.equal(
    spectralAngleMapper(fromPixels([[1, 1, 1]]), fromPixels([[1, 0, 0]]), 1, 1).toFixed(10),
    "54.7356103172", // arccos(1/√3)
  );
  assert.ok(Number.isNaN(spectralAngleMapper(new Uint8Array(6), new Uint8Array(6), 2, 1)), "no valid pixel");
  assert.throws(() => spectralAngleMapper(new Uint8Array(6), new Uint8Array(5), 2, 1), RangeError);
  assert.throws(() => spectralAngleMapper(new Uint8Array(7), new Uint8Array(7), 2, 1), RangeError);
});

Deno.test("ERGAS of a 2-band image worked by hand (Wald 2000)", () => {
  // Band 1: reference 10, 30 (mean 20), output 12, 26: MSE (4 + 16)/2 = 10, (RMSE/μ)² = 10/400 = 0.025.
  // Band 2: reference 50, 50 (mean 50), output 45, 55: MSE 25, (RMSE/μ)² = 25/2500 = 0.01.
  // ERGAS = 100 · (1/4) · √((0.025 + 0.01)/2) = 25·√0.0175 = 3.3071891388…
  const reference = new Float64Array([10, 30, 50, 50]);
  const output = new Float64Array([12, 26, 45, 55]);
  assert.ok(Math.abs(ergas(output, reference, 2, 1, 4) - 3.3071891388307386) < 1e-12);
  assert.ok(Math.abs(ergas(output, reference, 1, 2, 2) - 6.614378277661477) < 1e-12, "h/l = 1/2 doubles it");
  assert.equal(ergas(reference, reference, 2, 1, 4), 0);
  // A third band whose reference mean is 0 has no relative error and is left out of the average.
  const withEmpty = ergas(
    new Float64Array([12, 26, 45, 55, 1, 1]),
    new Float64Array([10, 30, 50, 50, 0, 0]),
    2,
    1,
    4,
  );
  assert.ok(Math.abs(withEmpty - 3.3071891388307386) < 1e-12);
  assert.ok(Number.isNaN(ergas(new Float64Array([1, 2]), new Float64Array([0, 0]), 2, 1, 4)));
  assert.throws(() => ergas(output, reference, 2, 1, 0.5), RangeError);
});

Deno.test("radial power spectrum: Welch grid and a direct 2-D DFT of one 8×8 patch", () => {
  assert.equal(spectrumPatchSize(3000, 3000), 64);
  assert.equal(spectrumPatchSize(100, 40), 32);
  assert.throws(() => spectrumPatchSize(7, 100), RangeError);
  // 32-pixel patches every 16 pixels: x at 0, 16, 32, 48, 64 (80 + 32 > 100), y at 0 and 16 (32 + 32 > 56).
  assert.equal(radialPowerSpectrum(new Uint8Array(100 * 56), 100, 56).patches, 10);

  const random = generator(3);
  const n = 8;
  const plane = Float64Array.from({ length: n * n }, () => Math.floor(random() * 256));
  const hann = Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
  const mean = plane.reduce((s, v) => s + v, 0) / (n * n);
  let windowEnergy = 0;
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) windowEnergy += (hann[x]! * hann[y]!) ** 2;
  const sums = new Float64Array(7); // radii round(√(kx² + ky²)) for kx, ky in −4…3 go up to round(4√2) = 6
  const counts = new Float64Array(7);
  for (let ky = -4; ky < 4; ky++) {
    for (let kx = -4; kx < 4; kx++) {
      let re = 0;
      let im = 0;
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          const z = (plane[y * n + x]! - mean) * hann[x]! * hann[y]!;
          const phase = (-2 * Math.PI * (kx * x + ky * y)) / n;
          re += z * Math.cos(phase);
          im += z * Math.sin(phase);
        }
      }
      const k = Math.round(Math.hypot(kx, ky));
      sums[k] = sums[k]! + (re * re + im * im) / windowEnergy;
      counts[k] = counts[k]! + 1;
    }
  }
  const spectrum = radialPowerSpectrum(plane, n, n);
  assert.deepEqual([spectrum.patchSize, spectrum.patches], [8, 1]);
  assert.deepEqual(Array.from(spectrum.counts), Array.from(counts));
  spectrum.power.forEach((p, k) => {
    const expected = sums[k]! / counts[k]!;
    assert.ok(Math.abs(p - expected) <= 1e-9 * expected, `bin ${k}: ${p} vs ${expected}`);
  });
});

Deno.test("high-frequency ratio: identical 1, flat 0, sinusoids either side of the LR Nyquist", () => {
  const random = generator(11);
  const [w, h] = [96, 80];
  const texture = Uint8Array.from(image(3, w, h, () => random() * 256));
  assert.equal(highFrequencyRatio(texture, texture, w, h, 4), 1);
  assert.equal(highFrequencyRatio(new Uint8Array(texture.length).fill(90), texture, w, h, 4), 0);
  assert.ok(Number.isNaN(highFrequencyRatio(texture, new Uint8Array(texture.length).fill(90), w, h, 4)));

  // 64-pixel patches, ×4: the LR Nyquist is radius 64/2/4 = 8 DFT bins. A cosine with 12 cycles per 64
  // pixels is above it, one with 6 below it; with the (periodic) Hann window each lands in its bin ± 1
  // (and ky ∈ {−1, 0, 1}), so bins 5–7 and 11–13.
  const cosine = (cycles: number, amplitude: number) =>
    image(1, 128, 128, (_, _y, x) => amplitude * Math.cos((2 * Math.PI * cycles * x) / 64 + 0.3));
  const fine = cosine(12, 1);
  assert.ok(highFrequencyRatio(cosine(6, 1), fine, 128, 128, 4) < 1e-20, "6 cycles: below the cutoff");
  // Power is amplitude squared, and it counts the same at any frequency above the cutoff (×8: radius 4).
  assert.ok(Math.abs(highFrequencyRatio(cosine(12, 2), fine, 128, 128, 4) - 4) < 1e-9);
  assert.ok(Math.abs(highFrequencyRatio(cosine(6, 1), fine, 128, 128, 8) - 1) < 1e-9);

  // A checkerboard's power is all in the spectrum's corner (radius 32√2), a smooth ramp's near 0.
  const checkerboard = image(1, 64, 64, (_, y, x) => ((x + y) % 2) * 255);
  const ramp = image(1, 64, 64, (_, y, x) => 2 * x + y);
  assert.ok(highFrequencyRatio(ramp, checkerboard, 64, 64, 4) < 1e-6);
  assert.ok(highFrequencyRatio(checkerboard, ramp, 64, 64, 4) > 1e6);
  assert.throws(() => highFrequencyRatio(texture, texture, w, h, 0), RangeError);
  assert.throws(() => highFrequencyRatio(new Uint8Array(49), new Uint8Array(49), 7, 7, 4), RangeError);
});

Deno.test("high-frequency ratio: bicubic upsampling ≈ 0, added noise > 1, on random texture", () => {
  const random = generator(5);
  const n = 128;
  const reference = Uint8Array.from(image(3, n, n, () => random() * 256));
  const low = resizeBicubic(Float32Array.from(reference), n, n, n / 4, n / 4);
  const bicubic = Uint8Array.from(
    resizeBicubic(low, n / 4, n / 4, n, n),
    (v) => Math.min(255, Math.max(0, v)),
  );
  const blurred = highFrequencyRatio(bicubic, reference, n, n, 4);
  assert.ok(blurred > 0 && blurred < 0.02, `bicubic: ${blurred}`);
  const noisy = Uint8Array.from(reference, (v) => Math.min(255, Math.max(0, v + (random() - 0.5) * 200)));
  const noise = highFrequencyRatio(noisy, reference, n, n, 4);
  assert.ok(noise > 1.1, `noisy: ${noise}`);
});
