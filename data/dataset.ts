/**
 * Training datasets in the shape of arcgis.learn's `prepare_data`: high-resolution chips, their
 * low-resolution counterparts (real `labels/`, or made by Pillow-equivalent antialiased bicubic
 * downsampling), the SR3 condition (the low-resolution chip upsampled bicubically back to full size),
 * [−1, 1] normalisation, a nodata mask for the loss, a seeded train/validation split, and batches with
 * joint random flips and 90° rotations. The data order is a pure function of (seed, epoch, position), so
 * a resumed run sees exactly the batches it would have seen.
 * @module
 */
import { cropSquare, symmetry, transformSquare } from "./augment.ts";
import { type ChipFolder, loadChipFolder } from "./chips.ts";
import { DataError } from "../base/errors.ts";
import { chooseNormalization, type Normalization, normalize } from "./normalize.ts";
import { mixSeed, permutation, randomInt, type RandomSource } from "./random.ts";
import { enlargeMask, resizeBicubicMasked } from "./resample.ts";
import { BandStatisticsAccumulator, validMask } from "./stats.ts";
import { type DataType, dataTypeInfo, toDataTypeValue } from "./types.ts";

/** Options of {@link loadChipDataset} (arcgis.learn `prepare_data` names, camel-cased). */
export interface ChipDatasetOptions {
  /** Side of the square training chips. Default: dataset.json's chipSize, else the smallest image side. */
  chipSize?: number;
  /** HR/LR resolution ratio. Required without labels/; with labels/ it must match them if given. */
  downsampleFactor?: number;
  /** Percentage of chips held out for validation. Default 10. */
  valSplitPct?: number;
  /** Seed of the split and of the epoch orders. Default 0. */
  seed?: number;
  /** 0-based bands to use. Default: all. */
  bands?: readonly number[];
  /** Use this normalisation (e.g. a trained model's) instead of deriving one from the data. */
  normalization?: Normalization;
}

/** Shapes of a {@link Batch}: NCHW for hr/lrUp/mask (mask has one channel), N·C·lrHeight·lrWidth for lr. */
export interface BatchShape {
  /** N. */
  batch: number;
  /** C (bands). */
  channels: number;
  /** High-resolution height. */
  height: number;
  /** High-resolution width. */
  width: number;
  /** Low-resolution height. */
  lrHeight: number;
  /** Low-resolution width. */
  lrWidth: number;
}

/** A batch of normalised chips, NCHW float32. */
export interface Batch {
  /** Target high-resolution chips in [−1, 1]. */
  hr: Float32Array;
  /** The condition: low-resolution chips upsampled bicubically to HR size, in [−1, 1]. */
  lrUp: Float32Array;
  /** The low-resolution chips in [−1, 1]. */
  lr: Float32Array;
  /** 1 where the HR pixel (and the LR pixel under it) is valid, 0 for nodata; N×1×H×W. */
  mask: Float32Array;
  /** Sizes. */
  shape: BatchShape;
  /** Chip names (relative paths), in batch order. */
  names: string[];
}

/** Where the training order stands; save it with a checkpoint and restore it to resume. */
export interface DatasetState {
  /** The dataset seed (must match on restore). */
  seed: number;
  /** Completed epochs. */
  epoch: number;
  /** Index of the next chip in this epoch's order. */
  position: number;
}

/** Independent seed streams derived from the dataset seed. */
const SPLIT_STREAM = 1;
const ORDER_STREAM = 2;

interface Sample {
  hr: Float32Array;
  lrUp: Float32Array;
  lr: Float32Array;
  mask: Float32Array;
}

/** A chip dataset in memory with a seeded split and a resumable training order. */
export class ChipDataset {
  /** Chip names of the training split, sorted. */
  readonly trainNames: readonly string[];
  /** Chip names of the validation split, sorted. */
  readonly valNames: readonly string[];
  /** Side of the low-resolution chips (chipSize / factor). */
  readonly lrChipSize: number;

  private epoch = 0;
  private position = 0;
  private order: number[];
  private readonly train: number[];
  private readonly val: number[];

  /** Use {@link loadChipDataset}. */
  constructor(
    private readonly folder: ChipFolder,
    /** Side of the square HR chips in batches. */
    readonly chipSize: number,
    /** HR/LR resolution ratio. */
    readonly factor: number,
    /** Maps native values to [−1, 1] (store it with the model). */
    readonly normalization: Normalization,
    /** Seed of the split and orders. */
    readonly seed: number,
    valCount: number,
  ) {
    this.lrChipSize = chipSize / factor;
    const shuffled = permutation(folder.images.length, mixSeed(seed, SPLIT_STREAM));
    this.val = shuffled.slice(0, valCount).sort((a, b) => a - b);
    this.train = shuffled.slice(valCount).sort((a, b) => a - b);
    this.trainNames = this.train.map((i) => folder.images[i]!.name);
    this.valNames = this.val.map((i) => folder.images[i]!.name);
    this.order = this.epochOrder(0);
  }

  /** The folder the chips came from. */
  get root(): string {
    return this.folder.root;
  }

  /** Ground size of a high-resolution pixel, |x| in CRS units (dataset.json's), or null when unknown. */
  get pixelSize(): number | null {
    const size = this.folder.manifest?.pixelSize?.[0];
    return size === undefined ? null : Math.abs(size);
  }

  /** Whether low-resolution chips come from labels/ (true) or from bicubic downsampling (false). */
  get paired(): boolean {
    return this.folder.labels !== null;
  }

  /** Bands per chip. */
  get bandCount(): number {
    return this.folder.bandCount;
  }

  /** Native data type of the HR chips (outputs are written back in it). */
  get dataType(): DataType {
    return this.folder.dataType;
  }

  /** The saveable position in the training order. */
  get state(): DatasetState {
    return { seed: this.seed, epoch: this.epoch, position: this.position };
  }

  /**
   * Continues from a saved position.
   * @throws {RangeError} when the state belongs to another seed or does not fit this dataset
   */
  restore(state: DatasetState): void {
    if (state.seed !== this.seed) {
      throw new RangeError(`dataset state has seed ${state.seed}, this dataset ${this.seed}`);
    }
    if (
      !(Number.isInteger(state.epoch) && state.epoch >= 0 && state.position >= 0 &&
        state.position <= this.train.length)
    ) {
      throw new RangeError(
        `dataset state ${JSON.stringify(state)} does not fit ${this.train.length} training chips`,
      );
    }
    this.epoch = state.epoch;
    this.position = state.position;
    this.order = this.epochOrder(state.epoch);
  }

  /**
   * The next training batch: chips in this epoch's shuffled order (continuing into the next epoch when
   * one ends), each randomly cropped to chipSize if larger and transformed by one of the 8 flips/rotations,
   * jointly for HR, condition, LR and mask.
   * @param batchSize N
   * @param random source of the crop positions and augmentations
   */
  nextBatch(batchSize: number, random: RandomSource): Batch {
    if (this.train.length === 0) throw new RangeError(`${this.root}: no training chips`);
    const indices: number[] = [];
    for (let n = 0; n < batchSize; n++) {
      if (this.position === this.order.length) {
        this.epoch++;
        this.position = 0;
        this.order = this.epochOrder(this.epoch);
      }
      indices.push(this.order[this.position++]!);
    }
    return this.assemble(indices, random);
  }

  /**
   * Up to `limit` training chips in a fixed order (centre crops, no augmentation), without touching the
   * training order: for statistics of the training data.
   */
  *trainingBatches(batchSize: number, limit = Infinity): Generator<Batch> {
    const chips = this.train.slice(0, Math.min(limit, this.train.length));
    for (let start = 0; start < chips.length; start += batchSize) {
      yield this.assemble(chips.slice(start, start + batchSize), null);
    }
  }

  /** Validation batches in a fixed order: centre crops, no augmentation. */
  *validationBatches(batchSize: number): Generator<Batch> {
    for (let start = 0; start < this.val.length; start += batchSize) {
      yield this.assemble(this.val.slice(start, start + batchSize), null);
    }
  }

  /** The training chips in the shuffled order of one epoch. */
  private epochOrder(epoch: number): number[] {
    return permutation(this.train.length, mixSeed(this.seed, ORDER_STREAM, epoch)).map((i) => this.train[i]!);
  }

  /** Builds a batch from chip indices; `random` null means centre crops and no augmentation. */
  private assemble(indices: readonly number[], random: RandomSource | null): Batch {
    const size = this.chipSize;
    const lrSize = this.lrChipSize;
    const channels = this.bandCount;
    const hrLength = channels * size * size;
    const lrLength = channels * lrSize * lrSize;
    const batch: Batch = {
      hr: new Float32Array(indices.length * hrLength),
      lrUp: new Float32Array(indices.length * hrLength),
      lr: new Float32Array(indices.length * lrLength),
      mask: new Float32Array(indices.length * size * size),
      shape: {
        batch: indices.length,
        channels,
        height: size,
        width: size,
        lrHeight: lrSize,
        lrWidth: lrSize,
      },
      names: indices.map((i) => this.folder.images[i]!.name),
    };
    indices.forEach((index, n) => {
      const sample = this.sample(index, random);
      const turn = symmetry(random ? randomInt(random, 8) : 0);
      transformSquare(sample.hr, size, turn, batch.hr, n * hrLength);
      transformSquare(sample.lrUp, size, turn, batch.lrUp, n * hrLength);
      transformSquare(sample.lr, lrSize, turn, batch.lr, n * lrLength);
      transformSquare(sample.mask, size, turn, batch.mask, n * size * size);
    });
    return batch;
  }

  /** Crop (random when `random` is given, else centred), LR, normalisation and condition of one chip. */
  private sample(index: number, random: RandomSource | null): Sample {
    const image = this.folder.images[index]!;
    const label = this.folder.labels?.[index] ?? null;
    const size = this.chipSize;
    const lrSize = this.lrChipSize;
    // With real labels the crop must start on a low-resolution pixel corner.
    const step = label ? this.factor : 1;
    const offset = (extent: number): number => {
      const choices = Math.floor((extent - size) / step) + 1;
      return step * (random ? randomInt(random, choices) : Math.floor((choices - 1) / 2));
    };
    const x = offset(image.width);
    const y = offset(image.height);
    const hrNative = cropSquare(Float32Array.from(image.samples), image.width, image.height, x, y, size);
    const hrValid = validMask(hrNative, size * size, image.nodata);
    let lrNative: Float32Array;
    let lrValid: Uint8Array;
    if (label) {
      lrNative = cropSquare(
        Float32Array.from(label.samples),
        label.width,
        label.height,
        x / step,
        y / step,
        lrSize,
      );
      lrValid = validMask(lrNative, lrSize * lrSize, label.nodata);
    } else {
      // uint8: Pillow's 8-bit path, as the SR3 reference makes its LR images.
      const low = resizeBicubicMasked(hrNative, hrValid, size, size, lrSize, lrSize, {
        uint8: this.dataType === "uint8",
      });
      lrNative = quantize(low.data, this.dataType);
      lrValid = low.valid;
    }
    const lr = normalize(lrNative, lrSize * lrSize, this.normalization, lrValid);
    // The condition stays on the float path, in training as in upscaling: rounding it to uint8 (the
    // reference does, storing PNGs) would only take precision from the model's input.
    const lrUp = resizeBicubicMasked(lr, lrValid, lrSize, lrSize, size, size).data;
    const lrValidUp = enlargeMask(lrValid, lrSize, lrSize, this.factor);
    const mask = new Float32Array(size * size);
    for (let i = 0; i < mask.length; i++) mask[i] = hrValid[i]! & lrValidUp[i]!;
    return { hr: normalize(hrNative, size * size, this.normalization, hrValid), lrUp, lr, mask };
  }
}

/** Rounds and clamps made-up LR pixels to the native type, as real low-resolution imagery is stored. */
function quantize(data: Float32Array, dataType: DataType): Float32Array {
  if (!dataTypeInfo(dataType).integer) return data;
  return data.map((v) => toDataTypeValue(v, dataType));
}

function resolveFactor(folder: ChipFolder, requested: number | undefined): number {
  const { labels, images, root } = folder;
  if (!labels) {
    if (requested === undefined) {
      throw new DataError(
        `${root}: no labels/ folder, so downsampleFactor is needed to make low-resolution chips`,
      );
    }
    if (!Number.isInteger(requested) || requested < 1) {
      throw new DataError(`${root}: downsampleFactor must be a positive integer, got ${requested}`);
    }
    return requested;
  }
  const factor = images[0]!.width / labels[0]!.width;
  images.forEach((image, i) => {
    const label = labels[i]!;
    if (image.width !== label.width * factor || image.height !== label.height * factor) {
      throw new DataError(
        `${root}/labels/${label.name}: ${label.width}×${label.height} does not match its image ` +
          `${image.width}×${image.height} at the factor ${factor}`,
      );
    }
  });
  if (!Number.isInteger(factor) || factor < 1) {
    throw new DataError(`${root}: images and labels differ by a non-integer factor ${factor}`);
  }
  if (requested !== undefined && requested !== factor) {
    throw new DataError(
      `${root}: downsampleFactor ${requested} does not match the labels, which are ${factor}× coarser`,
    );
  }
  return factor;
}

function resolveChipSize(folder: ChipFolder, requested: number | undefined, factor: number): number {
  const chipSize = requested ?? folder.manifest?.chipSize ??
    Math.min(...folder.images.map((image) => Math.min(image.width, image.height)));
  if (!Number.isInteger(chipSize) || chipSize < 1 || chipSize % factor !== 0) {
    throw new DataError(
      `${folder.root}: chip size ${chipSize} is not a positive multiple of the factor ${factor}`,
    );
  }
  for (const image of folder.images) {
    if (image.width < chipSize || image.height < chipSize) {
      throw new DataError(
        `${folder.root}/${image.name}: chip of ${image.width}×${image.height} is smaller than the chip size ${chipSize}`,
      );
    }
  }
  return chipSize;
}

function resolveNormalization(folder: ChipFolder, options: ChipDatasetOptions): Normalization {
  const { bandCount, dataType, manifest } = folder;
  if (options.normalization) {
    if (options.normalization.low.length !== bandCount) {
      throw new DataError(
        `${folder.root}: the normalisation has ${options.normalization.low.length} bands, the chips ${bandCount}`,
      );
    }
    return options.normalization;
  }
  if (dataType === "uint8") return chooseNormalization(dataType, bandCount);
  if (manifest && manifest.statistics.length === manifest.bands.length) {
    const selected = options.bands ? options.bands.map((b) => manifest.statistics[b]!) : manifest.statistics;
    return chooseNormalization(dataType, bandCount, selected);
  }
  const accumulator = new BandStatisticsAccumulator(bandCount, dataType, folder.images[0]!.nodata);
  for (const image of folder.images) {
    const data = Float32Array.from(image.samples);
    const valid = validMask(data, image.width * image.height, image.nodata);
    accumulator.add(data, valid);
  }
  const stats = accumulator.result();
  if (!stats) throw new DataError(`${folder.root}: every pixel of every chip is nodata`);
  return chooseNormalization(dataType, bandCount, stats);
}

/**
 * Loads a chip dataset (like arcgis.learn's `prepare_data`).
 * @param path an Export Tiles folder (images/, optional labels/ and dataset.json) or any folder of images
 * @throws {DataError} for a missing or empty folder, unreadable or inconsistent chips, a missing label,
 * chips smaller than `chipSize`, a factor that does not fit, or bands that do not exist
 */
export async function loadChipDataset(path: string, options: ChipDatasetOptions = {}): Promise<ChipDataset> {
  const folder = await loadChipFolder(path, options.bands);
  const factor = resolveFactor(folder, options.downsampleFactor);
  const chipSize = resolveChipSize(folder, options.chipSize, factor);
  const normalization = resolveNormalization(folder, options);
  const valSplitPct = options.valSplitPct ?? 10;
  if (!(valSplitPct >= 0 && valSplitPct < 100)) {
    throw new RangeError(`valSplitPct must be in [0, 100), got ${valSplitPct}`);
  }
  const count = folder.images.length;
  const valCount = count < 2 || valSplitPct === 0
    ? 0
    : Math.min(count - 1, Math.max(1, Math.round((count * valSplitPct) / 100)));
  return new ChipDataset(folder, chipSize, factor, normalization, options.seed ?? 0, valCount);
}
