/**
 * The WebGPU runtime every kernel dispatches through: a device with the adapter's real limits, command
 * batching with one open encoder, readback, and memory/traffic counters; the pipeline cache
 * (`pipelines.ts`), the bind group cache (`bind_groups.ts`), the uniform arena (`uniforms.ts`) and the buffer
 * and texture pools (`pool.ts`) are its parts.
 *
 * Design (after ONNX Runtime Web's gpu-data-manager / program-manager and jax-js's WebGPU backend):
 * - Every kernel binds its parameters as a uniform struct at `@binding(0)` and its operands at
 *   `@binding(1..n)` in the order the TypeScript passes them. Bind groups are kept per (pipeline,
 *   operands) with a parameter slot each; parameters are staged on the CPU and written with one
 *   `queue.writeBuffer` per buffer right before the submit.
 * - Dispatches are recorded into one open compute pass and submitted every `flushEvery` dispatches,
 *   on readback, or on `sync()`. Nothing waits on the GPU except `read()` and `sync()`, because in
 *   Deno each GPU→CPU round trip costs ~11 ms.
 * - A released buffer returns to the pool only after the submit that used it, so a later
 *   `queue.writeBuffer` (which runs before the still-open encoder) can never overwrite data an
 *   earlier, not yet submitted dispatch reads.
 * @module
 */
import { DeviceError } from "../base/errors.ts";
import { acquireDevice, type AdapterSummary } from "./device.ts";
import type { Dispatch, MemoryStats, RuntimeCounters, RuntimeOptions } from "./runtime_types.ts";
import { DeviceMemory } from "./device_memory.ts";
import { KernelProfiler, type KernelTime } from "./profiler.ts";
import { UniformArena, Uniforms } from "./uniforms.ts";
import { PipelineCache } from "./pipelines.ts";
import { BindGroupCache, createBindGroup } from "./bind_groups.ts";

export { Uniforms };
export { bucketBytes } from "./pool.ts";
export { type AdapterSummary } from "./device.ts";
export type { Binding, Dispatch, MemoryStats, RuntimeCounters, RuntimeOptions } from "./runtime_types.ts";

/**
 * A WebGPU device with a pipeline cache, buffer pool and command batching. Create one with
 * {@link Runtime.create}; `destroy()` it when done (tests must).
 */
export class Runtime {
  /** The adapter this runtime runs on. */
  readonly adapter: AdapterSummary;
  /** Dispatches per submit. */
  readonly flushEvery: number;

  private readonly pipelines: PipelineCache;
  private readonly memoryPools: DeviceMemory;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchDispatches = 0;
  private batchLabels = new Set<string>();
  private readonly uniforms: UniformArena;
  private readonly bindGroups: BindGroupCache;

  private profiler: KernelProfiler | null = null;
  private readonly errorChecks: Promise<void>[] = [];
  private deferredError: DeviceError | null = null;
  private lostReason: string | null = null;
  private destroyed = false;

  private readonly count: Omit<RuntimeCounters, "pipelinesCompiled"> = {
    dispatches: 0,
    submits: 0,
    readbacks: 0,
  };

  private constructor(readonly device: GPUDevice, adapter: AdapterSummary, options: RuntimeOptions) {
    this.adapter = adapter;
    this.flushEvery = options.flushEvery ?? 32;
    this.memoryPools = new DeviceMemory(device, options.textureCacheBytes ?? null);
    const align = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    this.uniforms = new UniformArena(this.createPersistentBuffer(UniformArena.BYTES, "uniform-arena"), align);
    this.bindGroups = new BindGroupCache(
      device,
      this.createPersistentBuffer(BindGroupCache.BYTES, "bind-group-uniforms"),
      align,
    );
    this.pipelines = new PipelineCache(device, (scope, what) => this.watch(scope, what));
    device.lost?.then((info) => {
      if (!this.destroyed) this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  /**
   * Acquires the best adapter and a device with all of the adapter's limits.
   * @throws {DeviceError} with one sentence on what to install when WebGPU or an adapter is missing.
   */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const { device, adapter } = await acquireDevice(options.powerPreference ?? "high-performance");
    return new Runtime(device, adapter, options);
  }

  /**
   * Returns the compute pipeline for `name` with these compile-time `options`, compiling it once.
   * One pipeline serves every shape, because shapes travel as uniforms.
   * Compilation errors surface from the next `sync()`/`read()` as a {@link DeviceError} naming the kernel.
   */
  pipeline(
    name: string,
    options: Readonly<Record<string, string | number | boolean>>,
    source: () => string,
  ): GPUComputePipeline {
    return this.pipelines.get(name, options, source);
  }

  /** Records one dispatch into the open batch, submitting the batch when it is full. */
  dispatch(spec: Dispatch): void {
    this.assertUsable();
    const [x, y = 1, z = 1] = spec.workgroups;
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new DeviceError(
        `kernel ${spec.pipeline.label} asked for ${x}×${y}×${z} workgroups; the device allows ${maxGroups} per dimension`,
      );
    }
    // Any flush comes before the parameters are staged, so they travel with the batch that reads them.
    if (this.profiler && this.profiler.recorded >= this.profiler.capacity) this.flush();
    const layout = this.pipelines.layoutOf(spec.pipeline);
    const group = this.bindGroups.get(layout, spec.uniforms, spec.bindings) ?? this.oneOffGroup(layout, spec);
    const pass = this.profiler
      ? (this.closePass(), this.pass = this.profiler.beginPass(this.openEncoder(), spec.pipeline.label))
      : this.openPass();
    pass.setPipeline(spec.pipeline);
    pass.setBindGroup(0, group);
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.closePass();
    this.batchLabels.add(spec.pipeline.label);
    this.count.dispatches++;
    if (++this.batchDispatches >= this.flushEvery) this.flush();
  }

  /** A bind group of its own for a dispatch the cache cannot serve, its parameters in the uniform arena. */
  private oneOffGroup(layout: GPUBindGroupLayout, spec: Dispatch): GPUBindGroup {
    if (!this.uniforms.fits(spec.uniforms.byteLength)) this.flush();
    return createBindGroup(this.device, layout, this.uniforms.add(spec.uniforms), spec.bindings);
  }

  /** Records a buffer-to-buffer copy (ends the open compute pass). */
  copyBuffer(
    source: GPUBuffer,
    sourceOffset: number,
    target: GPUBuffer,
    targetOffset: number,
    bytes: number,
  ): void {
    this.assertUsable();
    this.closePass();
    this.openEncoder().copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
  }

  /**
   * Records a buffer-to-texture copy (ends the open compute pass). On lavapipe this is a memcpy,
   * ~10× cheaper per float than a compute pass that reads the buffer.
   */
  copyBufferToTexture(
    source: GPUTexelCopyBufferInfo,
    destination: GPUTexelCopyTextureInfo,
    size: GPUExtent3DDict,
  ): void {
    this.assertUsable();
    this.closePass();
    this.openEncoder().copyBufferToTexture(source, destination, size);
  }

  /** Records a texture-to-buffer copy (ends the open compute pass); on lavapipe a memcpy. */
  copyTextureToBuffer(
    source: GPUTexelCopyTextureInfo,
    destination: GPUTexelCopyBufferInfo,
    size: GPUExtent3DDict,
  ): void {
    this.assertUsable();
    this.closePass();
    this.openEncoder().copyTextureToBuffer(source, destination, size);
  }

  /** Submits the open batch (no wait). Buffers released during it become reusable afterwards. */
  flush(): void {
    this.closePass();
    if (this.encoder) {
      const collectTimes = this.profiler?.resolve(this.encoder);
      this.uniforms.upload(this.device.queue);
      this.bindGroups.upload(this.device.queue);
      this.device.queue.submit([this.encoder.finish()]);
      collectTimes?.();
      const labels = [...this.batchLabels].join(", ");
      this.watch(this.device.popErrorScope(), `a batch of kernels (${labels}) failed on the device`);
      this.encoder = null;
      this.count.submits++;
    }
    this.bindGroups.nextBatch();
    this.batchDispatches = 0;
    this.batchLabels = new Set();
    this.memoryPools.recycle();
  }

  /** Submits everything and waits until the GPU has finished it; rethrows any deferred device error. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  /**
   * Copies `byteLength` bytes of `buffer` from `byteOffset` back to the CPU. This is a full round trip
   * (~11 ms in Deno): call it at logging intervals and at the end of loops, never inside them.
   */
  async read(buffer: GPUBuffer, byteOffset = 0, length?: number): Promise<ArrayBuffer> {
    const byteLength = length ?? buffer.size - byteOffset;
    this.assertUsable();
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.closePass();
    this.openEncoder().copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.flush();
    this.count.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const copy = staging.getMappedRange().slice(0, byteLength);
      staging.unmap();
      return copy;
    } catch (error) {
      await this.checkErrors();
      throw new DeviceError(
        `reading a ${byteLength}-byte buffer back from the GPU failed: ${(error as Error).message}`,
      );
    } finally {
      staging.destroy();
      await this.checkErrors();
    }
  }

  /**
   * Uploads `data` into `buffer` at `byteOffset`. The open batch is submitted first, so commands already
   * recorded see the old contents and later ones the new.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView<ArrayBuffer>, byteOffset = 0): void {
    this.assertUsable();
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Hands out a pooled storage buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number): GPUBuffer {
    this.assertUsable();
    return this.memoryPools.acquire(bytes);
  }

  /** Returns a pooled buffer; it becomes reusable after the submit of the batch that may still read it. */
  release(buffer: GPUBuffer): void {
    this.memoryPools.release(buffer);
  }

  /** Allocates a buffer outside the pool (parameters, optimizer state); free it with `destroyPersistent`. */
  createPersistentBuffer(bytes: number, label?: string): GPUBuffer {
    return this.memoryPools.createPersistent(bytes, label);
  }

  /** Whether `buffer` came from {@link createPersistentBuffer} and is not destroyed. */
  isPersistent(buffer: GPUBuffer): boolean {
    return this.memoryPools.isPersistent(buffer);
  }

  /** Frees a buffer from {@link createPersistentBuffer} once the work already recorded is submitted. */
  destroyPersistent(buffer: GPUBuffer): void {
    if (!this.isPersistent(buffer)) return;
    this.flush();
    this.memoryPools.destroyPersistent(buffer);
  }

  /**
   * Hands out a pooled 2D texture (with `layers` array layers) usable as a sampled texture and a
   * storage texture.
   */
  acquireTexture(
    width: number,
    height: number,
    format: GPUTextureFormat = "rgba32float",
    layers = 1,
  ): GPUTexture {
    this.assertUsable();
    return this.memoryPools.acquireTexture(width, height, format, layers);
  }

  /** Returns a texture to the pool after the submit of the batch that may still read it. */
  releaseTexture(texture: GPUTexture): void {
    this.memoryPools.releaseTexture(texture);
  }

  /** Destroys every free pooled buffer and texture (live ones are untouched). */
  trimPool(): void {
    this.flush();
    this.memoryPools.trim();
  }

  /** Current and peak device memory held by this runtime. */
  memory(): MemoryStats {
    return this.memoryPools.stats();
  }

  /** Restarts peak tracking from the current allocation. */
  resetPeak(): void {
    this.memoryPools.resetPeak();
  }

  /**
   * Starts timing every dispatch on the GPU (needs the adapter's "timestamp-query" feature; each
   * dispatch then runs in its own pass, which is slower). Returns false when timestamps are unavailable.
   */
  startProfiling(): boolean {
    if (!this.device.features.has("timestamp-query")) return false;
    this.flush();
    this.profiler = new KernelProfiler(this.device, 1024);
    return true;
  }

  /** Stops profiling and returns GPU milliseconds per kernel, slowest first. */
  async stopProfiling(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) return [];
    await this.sync();
    this.profiler = null;
    const report = await profiler.report();
    profiler.destroy();
    return report;
  }

  /** Dispatch, submit, readback and compile counts since creation. */
  counters(): RuntimeCounters {
    return { ...this.count, pipelinesCompiled: this.pipelines.compiled };
  }

  /** Releases the device and everything allocated on it. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pass = null;
    this.encoder = null;
    this.device.destroy();
  }

  /** The open command encoder, created (inside a validation error scope) on first use. */
  private openEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope("validation");
      this.encoder = this.device.createCommandEncoder();
    }
    return this.encoder;
  }

  /** The open compute pass, begun on first use. */
  private openPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.openEncoder().beginComputePass();
    return this.pass;
  }

  /** Ends the open compute pass, if any (copies cannot run inside one). */
  private closePass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Remembers the first error an error scope reports, to rethrow at the next sync. */
  private watch(scope: Promise<GPUError | null>, what: string): void {
    this.errorChecks.push(scope.then((error) => {
      if (error && !this.deferredError) {
        this.deferredError = new DeviceError(`${what}: ${error.message.trim()}`);
      }
    }));
  }

  /** Waits for pending error scopes and rethrows the first deferred error. */
  private async checkErrors(): Promise<void> {
    const pending = this.errorChecks.splice(0);
    await Promise.all(pending);
    if (this.deferredError) {
      const error = this.deferredError;
      this.deferredError = null;
      throw error;
    }
  }

  /** Fails fast on a destroyed runtime or a lost device. @throws {DeviceError} */
  private assertUsable(): void {
    if (this.destroyed) throw new DeviceError("this sr3 runtime was destroyed; create a new one");
    if (this.lostReason) throw new DeviceError(`the GPU device was lost (${this.lostReason})`);
  }
}
