/**
 * `sr3 info`: the WebGPU adapter sr3 runs on (name, software or hardware, limits, features) and the
 * versions involved.
 * @module
 */
import { Command } from "../deps.ts";
import { Runtime } from "../kernels/runtime.ts";
import { SR3_VERSION } from "../kernels/version.ts";
import { formatBytes, printJson, runCommand } from "./common.ts";

/** The limits worth showing in the text report. */
const SHOWN_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxStorageBuffersPerShaderStage",
  "maxTextureDimension2D",
];

/** The `info` command. */
export const infoCommand = new Command("info")
  .description("show the GPU adapter sr3 runs on, its limits, and versions")
  .option("--json", "print the report as JSON")
  .addHelpText("after", "\nExamples:\n  $ sr3 info\n  $ sr3 info --json > adapter.json")
  .action((options) =>
    runCommand("info", async () => {
      const rt = await Runtime.create();
      const report = {
        sr3: SR3_VERSION,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        adapter: rt.adapter,
      };
      rt.destroy();
      if (options.json) return printJson(report);
      const a = report.adapter;
      console.log(`sr3 ${report.sr3} on Deno ${report.deno} (V8 ${report.v8})`);
      console.log(`adapter: ${a.description || "(no description)"} [vendor ${a.vendor}]`);
      console.log(`backends searched: ${a.backends ?? "Deno's default"} (DENO_WEBGPU_BACKEND)`);
      console.log(
        `kind: ${
          a.isSoftware
            ? "software (CPU) adapter: works everywhere, slowly; use a machine with a GPU and its Vulkan/Metal/D3D12 driver for speed"
            : "hardware GPU"
        }`,
      );
      for (const key of SHOWN_LIMITS) {
        const value = a.limits[key];
        if (value !== undefined) {
          console.log(`  ${key}: ${key.includes("Size") && value > 65536 ? formatBytes(value) : value}`);
        }
      }
      console.log(`features: ${a.features.join(", ") || "(none)"}`);
    })
  );
