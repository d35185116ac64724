/**
 * Every third-party module sr3 uses, pinned here and only here. Full `npm:` specifiers (rather than
 * deno.json's import map) make `mod.ts` importable by path or URL from a script with no config of its own.
 * (tfjs, which only the benchmark loads, stays in deno.json's import map.)
 * @module
 */

// WebGPU types for consumers whose TypeScript setup lacks Deno's built-in ones (they agree with Deno's).
/// <reference types="npm:@webgpu/types@0.1.74" />

export { BinaryReader, BinaryWriter, WireType } from "npm:@bufbuild/protobuf@2.17.0/wire";
// The CLI's parser (commander with typed options; it takes commander ~15.1.0 as its peer).
export {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "npm:@commander-js/extra-typings@15.1.0";
export { default as cliProgress } from "npm:cli-progress@3.12.0";
export { default as crc32c } from "npm:crc-32@1.2.2/crc32c.js";
export { convertIndexedToRgb, decode as decodePng, encode as encodePngBytes } from "npm:fast-png@8.0.0";
export { zlibSync } from "npm:fflate@0.8.3";
export { default as FFT } from "npm:fft.js@4.0.4";
export { fromFile, type GeoTIFF, type GeoTIFFImage, type TypedArray } from "npm:geotiff@3.0.5";
export { default as jpeg } from "npm:jpeg-js@0.4.4";
export { parse as parseJsonc, type ParseError, printParseErrorCode } from "npm:jsonc-parser@3.3.1";
// @ts-types="./kernels/wgsl_preprocessor.d.ts"
export { wgsl as preprocessWgsl } from "npm:wgsl-preprocessor@1.0.1/wgsl-preprocessor.js";
