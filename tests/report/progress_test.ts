import assert from "node:assert/strict";
import {
  estimateRemainingSeconds,
  formatDuration,
  formatProgressValue,
  formatRate,
  ProgressLine,
  type ProgressStream,
  RateMeter,
} from "../../report/progress.ts";

/** A stream that records what is written, and a clock the test moves by hand. */
function fakeOutput(isTTY: boolean): { stream: ProgressStream; text: () => string; clock: { ms: number } } {
  const chunks: string[] = [];
  return {
    stream: { isTTY, columns: 100, write: (text: string) => chunks.push(text) },
    text: () => chunks.join(""),
    clock: { ms: 0 },
  };
}

Deno.test("formatDuration shows the two largest units", () => {
  assert.deepEqual(
    [0, 59.9, 60, 3599, 3600, 3725, 2 * 86400 + 3 * 3600 + 59].map(formatDuration),
    ["0s", "59s", "1m00s", "59m59s", "1h00m", "1h02m", "2d03h"],
  );
});

Deno.test("formatRate switches to seconds per unit below one unit per second", () => {
  assert.equal(formatRate(null, "it"), "-- it/s");
  assert.equal(formatRate(3.4217, "it"), "3.42 it/s");
  assert.equal(formatRate(250.4, "tile"), "250 tile/s");
  assert.equal(formatRate(0.08, "it"), "12.5 s/it");
});

Deno.test("estimateRemainingSeconds is the work left over the rate", () => {
  assert.equal(estimateRemainingSeconds(1200, 5000, 3.8), 1000);
  assert.equal(estimateRemainingSeconds(10, 5, 2), 0);
  assert.equal(estimateRemainingSeconds(1, 5, null), null);
  assert.equal(estimateRemainingSeconds(1, 5, 0), null);
});

Deno.test("formatProgressValue keeps integers and strings, rounds floats to 4 digits", () => {
  assert.deepEqual(
    [3, 0.051234, 1e-4, 1234.5678, 2.5e7 + 0.5, "ddim", NaN].map(formatProgressValue),
    ["3", "0.05123", "1.00e-4", "1235", "2.50e7", "ddim", "NaN"],
  );
});

Deno.test("RateMeter measures over its window, keeping one baseline sample before it", () => {
  const meter = new RateMeter(1500);
  assert.equal(meter.rate(), null);
  meter.add(0, 0);
  assert.equal(meter.rate(), null);
  meter.add(1000, 10);
  meter.add(2000, 20);
  assert.equal(meter.rate(), 10);
  meter.add(3000, 22);
  meter.add(4000, 24); // window reaches back to 2500: baseline (2000, 20)
  assert.equal(meter.rate(), 2);
});

Deno.test("off a terminal, ProgressLine prints a plain line per interval, messages, and a final line", () => {
  const output = fakeOutput(false);
  const progress = new ProgressLine({
    total: 100,
    label: "train",
    stream: output.stream,
    plainIntervalMs: 10_000,
    now: () => output.clock.ms,
  });
  progress.update(1, { epoch: 1, loss: 0.5 });
  output.clock.ms = 5_000;
  progress.update(5, { loss: 0.4 });
  output.clock.ms = 10_000;
  progress.update(10, { loss: 0.25 });
  progress.log("checkpoint written");
  output.clock.ms = 20_000;
  progress.finish();
  progress.finish();
  progress.update(11);
  assert.equal(
    output.text(),
    [
      "train 1/100 1% | epoch 1, loss 0.5 | -- it/s | 0s, ETA --",
      // 9 steps in 10 s: 0.9 it/s, 90 steps left → 100 s.
      "train 10/100 10% | epoch 1, loss 0.25 | 1.11 s/it | 10s, ETA 1m40s",
      "checkpoint written",
      "train 10/100 10% | epoch 1, loss 0.25 | 1.11 s/it | took 20s",
      "",
    ].join("\n"),
  );
});

Deno.test("on a terminal, ProgressLine redraws in place with a bar and prints messages above it", () => {
  const output = fakeOutput(true);
  const progress = new ProgressLine({ total: 4, label: "upscale", unit: "tile", stream: output.stream });
  progress.update(2, { tiles: "2 of 4" });
  progress.log("wrote out.tif");
  progress.update(4);
  progress.finish();
  const text = output.text();
  assert.ok(text.includes("\x1b["), "cursor control sequences");
  assert.match(text, /wrote out\.tif\r?\n/);
  assert.match(text, /upscale █{12} 4\/4 100% \| tiles 2 of 4 \| .* tile\/s \| took \d+s/);
  assert.ok(!text.includes("\x1b[?7l") && !text.includes("\x1b[?25l"), "wrap mode and cursor left alone");
  assert.ok(text.endsWith("\n"));
});

Deno.test("a ProgressLine declared with using finishes, and stops its redraw timer, when the block throws", () => {
  const output = fakeOutput(true);
  assert.throws(() => {
    using progress = new ProgressLine({ total: 10, label: "train", stream: output.stream });
    progress.update(3);
    throw new Error("device lost");
  }, /device lost/);
  assert.match(output.text(), /train .* 3\/10 30% .* took \d+s/);
});

Deno.test("an unfinished ProgressLine on a terminal does not keep the process alive", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { ProgressLine } from "${new URL("../../report/progress.ts", import.meta.url).href}";
      const progress = new ProgressLine({ total: 10, stream: { isTTY: true, write: () => true } });
      progress.update(1);
      console.log("returned");`,
    );
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timeout = setTimeout(() => child.kill(), 20_000);
    const { code, stdout } = await child.output();
    clearTimeout(timeout);
    assert.equal(new TextDecoder().decode(stdout), "returned\n");
    assert.equal(code, 0, "exited by itself, not killed after 20 s");
  } finally {
    await Deno.remove(script);
  }
});
