/**
 * The residual scale s of residual diffusion: 1/RMS(HR − m) over valid pixels of training chips, so the
 * diffused residual r = (HR − m)·s has unit variance, as a variance-preserving diffusion assumes of its
 * data. Measured once, when the diffusion stage starts, on centred, unaugmented training chips in a fixed
 * order (the training order and random state are not touched), and stored in model.json.
 * @module
 */
import type { ChipDataset } from "../data/dataset.ts";
import type { MeanNet } from "../nn/mean_net.ts";
import { tidy } from "../nn/tensor.ts";
import { predictMean } from "./objectives.ts";

/** Chips the scale is measured on (enough for a stable standard deviation, a few seconds of work). */
const SCALE_CHIPS = 256;

/**
 * s = 1/√(mean of (HR − m)²) over the valid pixels of up to 256 training chips.
 * @throws {RangeError} when the dataset has no valid training pixels
 */
export async function measureResidualScale(
  meanNet: MeanNet,
  dataset: ChipDataset,
  batchSize: number,
): Promise<number> {
  let squares = 0;
  let count = 0;
  for (const batch of dataset.trainingBatches(batchSize, SCALE_CHIPS)) {
    // tidy frees the uploaded LR and bicubic tensors; only the estimate outlives it.
    const mean = tidy(() => predictMean(meanNet, batch));
    const values = await mean.read();
    mean.dispose();
    const { channels, height, width } = batch.shape;
    const pixels = height * width;
    for (let i = 0; i < values.length; i++) {
      const n = Math.floor(i / (channels * pixels));
      if (batch.mask[n * pixels + (i % pixels)] === 0) continue;
      squares += (batch.hr[i]! - values[i]!) ** 2;
      count++;
    }
  }
  if (count === 0 || squares === 0) {
    throw new RangeError(`${dataset.root}: no valid training pixels to scale the residual`);
  }
  return 1 / Math.sqrt(squares / count);
}
