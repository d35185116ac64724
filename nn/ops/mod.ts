/**
 * Every differentiable op, for `import { ops } from "sr3"`.
 * @module
 */
export * from "./elementwise.ts";
export * from "./reduce.ts";
export { broadcastTo } from "./broadcast.ts";
export { reshape } from "./reshape.ts";
export * from "./shape.ts";
export * from "./pixel_shuffle.ts";
export * from "./group_norm.ts";
export * from "./attention.ts";
export * from "./dropout.ts";
export * from "./encoding.ts";
export * from "./random.ts";
export * from "./conv2d.ts";
export * from "./norm_conv2d.ts";
export * from "./matmul.ts";
