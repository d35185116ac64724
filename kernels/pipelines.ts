/**
 * The runtime's compiled compute pipelines, one per kernel name and compile-time options: shapes travel
 * as uniforms, so one pipeline serves every shape, and each is compiled once per process (6–8 s for the
 * largest register-tiled kernels on lavapipe). Bind group layouts are fetched once per pipeline.
 * @module
 */

/** Compile-time options of a kernel (part of its cache key). */
export type KernelOptions = Readonly<Record<string, string | number | boolean>>;

/** Compute pipelines by name and options, with their bind group layouts. */
export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  /** Pipelines compiled so far. */
  compiled = 0;

  /**
   * @param device the device that compiles them
   * @param watch receives each compilation's validation scope and what to call a failure
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly watch: (scope: Promise<GPUError | null>, what: string) => void,
  ) {}

  /** The pipeline for `name` with `options`, compiling `source()` the first time. */
  get(name: string, options: KernelOptions, source: () => string): GPUComputePipeline {
    const key = `${name}${JSON.stringify(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code: source(), label: key });
    const pipeline = this.device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label: key,
    });
    this.watch(this.device.popErrorScope(), `kernel ${key} failed to compile`);
    this.pipelines.set(key, pipeline);
    this.compiled++;
    return pipeline;
  }

  /** The pipeline's bind group layout, fetched once (each fetch is a call into the WebGPU implementation). */
  layoutOf(pipeline: GPUComputePipeline): GPUBindGroupLayout {
    let layout = this.layouts.get(pipeline);
    if (!layout) this.layouts.set(pipeline, layout = pipeline.getBindGroupLayout(0));
    return layout;
  }
}
