/**
 * Device acquisition: the best adapter, and a device with all of its limits (not WebGPU's defaults) and the
 * timestamp queries kernel profiling uses, with one sentence on what to install when either is missing.
 * @module
 */
import { DeviceError } from "../base/errors.ts";

/** A description of the adapter the runtime runs on. */
export interface AdapterSummary {
  /** Driver description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Vendor id or name as reported by the adapter. */
  vendor: string;
  /** Architecture string, often empty. */
  architecture: string;
  /** True for CPU-emulated adapters (lavapipe, llvmpipe, SwiftShader, WARP). */
  isSoftware: boolean;
  /** Optional features the adapter offers. */
  features: string[];
  /** The adapter's limits, all requested for the device. */
  limits: Record<string, number>;
  /** The WebGPU backends Deno was asked to search (`DENO_WEBGPU_BACKEND`), or null for Deno's default. */
  backends: string | null;
}

function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.description} ${info.vendor} ${info.architecture}`.toLowerCase();
  return (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|warp|software/.test(text);
}

/**
 * The WebGPU backends sr3 asks Deno for when `DENO_WEBGPU_BACKEND` is not set: Vulkan, Metal and DX12.
 * Deno's default also probes OpenGL, which on Linux loads Mesa's EGL and its llvmpipe GL driver beside the
 * Vulkan one, unused; their teardown at process exit corrupted the heap in about one run in ten of the
 * test suite here ("corrupted size vs. prev_size in fastbins": a thread freed memory while `exit()` ran
 * the GL libraries' destructors). Set `DENO_WEBGPU_BACKEND=gl` to use OpenGL anyway.
 */
export const DEFAULT_BACKENDS = "vulkan,metal,dx12";

/**
 * Sets `DENO_WEBGPU_BACKEND` to {@link DEFAULT_BACKENDS} unless the user chose, and returns the list in
 * effect. Deno reads it at the first adapter request.
 */
function chooseBackends(): string | null {
  try {
    if (Deno.env.get("DENO_WEBGPU_BACKEND") === undefined) {
      Deno.env.set("DENO_WEBGPU_BACKEND", DEFAULT_BACKENDS);
    }
    return Deno.env.get("DENO_WEBGPU_BACKEND") ?? null;
  } catch {
    return null; // without --allow-env Deno's own default applies
  }
}

/**
 * Acquires the best adapter and a device with all of the adapter's limits.
 * @throws {DeviceError} with one sentence on what to install when WebGPU or an adapter is missing.
 */
export async function acquireDevice(
  powerPreference: GPUPowerPreference,
): Promise<{ device: GPUDevice; adapter: AdapterSummary }> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new DeviceError(
      "This runtime has no WebGPU (navigator.gpu is missing): run sr3 with Deno 2 or newer.",
    );
  }
  const backends = chooseBackends();
  const adapter = await gpu.requestAdapter({
    powerPreference,
  });
  if (!adapter) {
    throw new DeviceError(
      "No WebGPU adapter was found: install a Vulkan driver for your GPU, or Mesa's software " +
        "driver for CPU-only machines (Debian/Ubuntu: apt-get install mesa-vulkan-drivers), or set " +
        "DENO_WEBGPU_BACKEND=gl to try OpenGL.",
    );
  }
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === "number") limits[key] = value;
  }
  let device: GPUDevice;
  // Timestamp queries only serve kernel profiling; take them where offered.
  const requiredFeatures: GPUFeatureName[] = adapter.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  try {
    device = await adapter.requestDevice({ requiredLimits: limits, requiredFeatures });
  } catch (error) {
    throw new DeviceError(`The WebGPU adapter refused a device: ${(error as Error).message}`);
  }
  const info = adapter.info;
  return {
    device,
    adapter: {
      description: info.description,
      vendor: info.vendor,
      architecture: info.architecture,
      isSoftware: isSoftwareAdapter(info),
      features: [...adapter.features].sort(),
      limits,
      backends,
    },
  };
}
