/**
 * Reports: what sr3 shows people rather than computes with — PNG encoding, raster previews and heat
 * maps, loss curves and image grids (with their drawing and font), TensorBoard event files, and progress
 * lines with ETAs.
 * @module
 */
export { encodePng, type PngImage, type RgbaImage, writePng } from "./png.ts";
export {
  heatmapImage,
  previewImage,
  type PreviewOptions,
  type PreviewStretch,
  rasterPreview,
  type RasterPreviewOptions,
  writeRasterPreview,
} from "./preview.ts";
export {
  type EventImage,
  readEventFile,
  type TensorBoardEntry,
  TensorBoardWriter,
  type TensorBoardWriterOptions,
} from "./tensorboard.ts";
export {
  imageGrid,
  type ImageGridOptions,
  type LossCurveOptions,
  type LossPoint,
  plotLossCurve,
} from "./plot.ts";
export type { RgbaCanvas } from "./draw.ts";
export {
  ProgressLine,
  type ProgressOptions,
  type ProgressSnapshot,
  type ProgressStream,
  type ProgressValues,
} from "./progress.ts";
