import assert from "node:assert/strict";
import { importTorchCheckpoint } from "../../diffusion/import_torch.ts";
import { loadModel } from "../../diffusion/super_resolution.ts";
import { buildSchedule } from "../../diffusion/schedule.ts";
import { readModelDefinition } from "../../diffusion/model_dir.ts";
import { DataError } from "../../base/errors.ts";
import { ShapeError } from "../../base/errors.ts";
import { backward } from "../../nn/autodiff.ts";
import { decodeSafetensors, encodeSafetensors, readSafetensors } from "../../nn/safetensors.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

const fixture = new URL("../../testdata/torch/", import.meta.url).pathname;
const weights = `${fixture}ref_small.safetensors`;
const config = `${fixture}ref_small.config.json`;

Deno.test("a PyTorch reference checkpoint imports and predicts ε̂ like PyTorch", gpuTest, async () => {
  await withRuntime(async () => {
    const out = await Deno.makeTempDir();
    const report = await importTorchCheckpoint(weights, config, `${out}/model`, { downsampleFactor: 4 });
    assert.equal(report.parameters, 41_995);
    assert.ok(report.scheduleBuffersChecked.includes("betas"));
    const definition = await readModelDefinition(`${out}/model`);
    assert.equal(definition.unet.blockStyle, "reference");
    const io = (await readSafetensors(`${fixture}ref_small_io.safetensors`)).tensors;
    const sr = await loadModel(`${out}/model`);
    const input = io.get("input")!;
    const predicted = await sr.predictNoise(input.data, input.shape, io.get("noise_level")!.data);
    assertClose(predicted, io.get("output")!.data, 1e-4, "ε̂ vs PyTorch");

    // Gradients of L = Σ w·ε̂ with respect to the input and every parameter, against PyTorch's.
    const x = Tensor.fromArray(input.data, input.shape, { requiresGrad: true });
    const levels = Tensor.fromArray(io.get("noise_level")!.data, [2]);
    sr.model.setTraining(false);
    const y = sr.model.forward(x, levels);
    backward(y, Tensor.fromArray(io.get("loss_weights")!.data, y.shape));
    assertClose(await x.grad!.read(), io.get("grad.input")!.data, 1e-4, "∂L/∂input");
    for (const [name, param] of sr.model.namedParameters()) {
      assertClose(await param.grad!.read(), io.get(`grad.denoise_fn.${name}`)!.data, 1e-4, `∂L/∂${name}`);
    }
    // The schedule the config names reproduces the reference's continuous-noise table.
    assertClose(
      buildSchedule(definition.schedule).sqrtAlphasCumprodPrev,
      io.get("schedule.sqrt_alphas_cumprod_prev")!.data,
      1e-6,
      "√ᾱ_prev",
    );
    sr.dispose();
    await Deno.remove(out, { recursive: true });
  });
});

Deno.test(
  "a state dict that does not fit lists missing, unexpected and mis-shaped keys",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      const { tensors } = decodeSafetensors(await Deno.readFile(weights), weights);
      tensors.delete("denoise_fn.mid.1.res_block.block2.block.3.bias");
      tensors.set("denoise_fn.extra.weight", { data: new Float32Array(2), shape: [2] });
      const qkv = tensors.get("denoise_fn.mid.0.attn.qkv.weight")!;
      tensors.set("denoise_fn.mid.0.attn.qkv.weight", { data: qkv.data.slice(0, 16), shape: [16, 1, 1, 1] });
      const out = await Deno.makeTempDir();
      const broken = `${out}/broken.safetensors`;
      await Deno.writeFile(broken, encodeSafetensors(tensors));
      await assert.rejects(
        () => importTorchCheckpoint(broken, config, `${out}/model`, { downsampleFactor: 4 }),
        (e: unknown) =>
          e instanceof ShapeError &&
          e.message.includes("missing: mid.1.res_block.block2.block.3.bias") &&
          e.message.includes("unexpected: extra.weight") &&
          /mis-shaped: mid\.0\.attn\.qkv\.weight \(expected \[48, 16, 1, 1\], got \[16, 1, 1, 1\]\)/.test(
            e.message,
          ),
      );
      assert.equal(
        await Deno.stat(`${out}/model`).catch(() => null),
        null,
        "no half-written model directory",
      );
      // A schedule that does not match the config is refused too.
      const { tensors: good } = decodeSafetensors(await Deno.readFile(weights), weights);
      good.set("betas", { data: new Float32Array(2000).fill(0.02), shape: [2000] });
      await Deno.writeFile(broken, encodeSafetensors(good));
      await assert.rejects(
        () => importTorchCheckpoint(broken, config, `${out}/model`, { downsampleFactor: 4 }),
        (e: unknown) => e instanceof DataError && /does not match the linear schedule/.test(e.message),
      );
      await Deno.remove(out, { recursive: true });
    });
  },
);
