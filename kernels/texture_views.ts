/**
 * One view per texture and binding kind, created on first use: pooled textures are reused batch after
 * batch, and each `createView` is a call into the WebGPU implementation (plus a new object for bind
 * groups to track). A view lives exactly as long as its texture object: the pool never hands out a texture
 * it destroyed, so a cached view can only be reached through a texture that is still alive.
 * @module
 */

const arrayViews = new WeakMap<GPUTexture, GPUTextureView>();
const plainViews = new WeakMap<GPUTexture, GPUTextureView>();

/** The view every packed operand is bound through (`texture_2d_array<f32>`). */
export function arrayView(texture: GPUTexture): GPUTextureView {
  let view = arrayViews.get(texture);
  if (!view) arrayViews.set(texture, view = texture.createView({ dimension: "2d-array" }));
  return view;
}

/** The texture's default view (`texture_2d<f32>` for a one-layer texture), as linear operands bind it. */
export function plainView(texture: GPUTexture): GPUTextureView {
  let view = plainViews.get(texture);
  if (!view) plainViews.set(texture, view = texture.createView());
  return view;
}
