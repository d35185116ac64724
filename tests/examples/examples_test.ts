/**
 * The scheduler examples are runnable as shipped: the Kubernetes Indexed Job hands each pod the
 * environment `--shard k8s` reads, the Slurm batch script runs `--shard slurm` with its arguments, and
 * every flag they pass is one `sr3 upscale` has. (scripts/slurm-local.sh runs the batch script on a
 * real Slurm cluster.)
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { upscaleCommand } from "../../cli/upscale.ts";
import { K8S_ENV, parseShard } from "../../data/shard.ts";

const examples = new URL("../../examples/", import.meta.url).pathname;

/** The long flags `sr3 upscale` accepts. */
const upscaleFlags = new Set(upscaleCommand.options.map((option) => option.long));

function assertKnownFlags(args: readonly string[], where: string): void {
  for (const arg of args.filter((a) => a.startsWith("--"))) {
    assert.ok(upscaleFlags.has(arg), `${where}: sr3 upscale has no ${arg}`);
  }
}

interface Container {
  command: string[];
  args: string[];
  env: { name: string; value: string }[];
  volumeMounts: { name: string; mountPath: string }[];
}

Deno.test("k8s example: an Indexed Job whose pods get the --shard k8s contract and a shared volume", async () => {
  const documents = parseAllDocuments(await Deno.readTextFile(`${examples}k8s/upscale-indexed-job.yaml`))
    .map((document) => {
      assert.deepEqual(document.errors, []);
      return document.toJS();
    });
  const job = documents.find((d) => d.kind === "Job");
  assert.equal(job.apiVersion, "batch/v1");
  assert.equal(job.spec.completionMode, "Indexed", "pods get JOB_COMPLETION_INDEX only in Indexed mode");
  assert.equal(job.spec.template.spec.restartPolicy, "Never");
  const container: Container = job.spec.template.spec.containers[0];
  const argv = [...container.command, ...container.args];
  const upscale = argv.indexOf("upscale");
  assert.ok(upscale > 0 && argv[upscale - 1]!.endsWith("cli/main.ts"), argv.join(" "));
  const args = argv.slice(upscale + 1);
  assert.equal(args[args.indexOf("--shard") + 1], "k8s");
  assertKnownFlags(args, "k8s example");
  const count = container.env.find((e) => e.name === K8S_ENV.count)?.value;
  assert.equal(Number(count), job.spec.completions, `${K8S_ENV.count} must equal completions`);
  for (let index = 0; index < job.spec.completions; index++) {
    const env = {
      [K8S_ENV.index]: String(index),
      ...Object.fromEntries(container.env.map((e) => [e.name, e.value])),
    };
    assert.deepEqual(parseShard("k8s", env), { index, count: job.spec.completions });
  }
  const mount = container.volumeMounts[0]!;
  assert.ok(args[args.indexOf("--out") + 1]!.startsWith(`${mount.mountPath}/`), "parts land on the volume");
  const volume = job.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
  const claim = documents.find((d) => d.kind === "PersistentVolumeClaim");
  assert.equal(volume.persistentVolumeClaim.claimName, claim.metadata.name);
  assert.deepEqual(claim.spec.accessModes, ["ReadWriteMany"], "every pod, and the mosaic, sees every part");
});

Deno.test("Slurm example: a bash array script that runs --shard slurm with the given scene, model and flags", async () => {
  const script = `${examples}slurm/upscale.sbatch`;
  const text = await Deno.readTextFile(script);
  const array = /^#SBATCH --array=(\d+)-(\d+)$/m.exec(text);
  assert.ok(array, "#SBATCH --array");
  const syntax = await new Deno.Command("bash", { args: ["-n", script] }).output();
  assert.ok(syntax.success, "bash -n");
  // Run it as task 2 of --array=1-3 with `echo` standing in for sr3: it must hand sr3 our arguments.
  const env = { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "3" };
  const run = await new Deno.Command("bash", {
    args: [script, "scene.tif", "models/naip", "scene_sr.tif", "--sampling-steps", "20"],
    env: { ...env, SR3: "echo sr3" },
    stdout: "piped",
  }).output();
  assert.ok(run.success);
  const argv = new TextDecoder().decode(run.stdout).trim().split(" ");
  assert.deepEqual(argv, [
    "sr3",
    "upscale",
    "scene.tif",
    "--model",
    "models/naip",
    "--out",
    "scene_sr.tif",
    "--shard",
    "slurm",
    "--sampling-steps",
    "20",
  ]);
  assertKnownFlags(argv, "Slurm example");
  assert.deepEqual(parseShard("slurm", env), { index: 1, count: 3 });
  const usage = await new Deno.Command("bash", { args: [script], stderr: "piped" }).output();
  assert.equal(usage.code, 2);
  assert.match(
    new TextDecoder().decode(usage.stderr),
    /usage: sbatch upscale\.sbatch INPUT\.tif MODEL_DIR OUTPUT\.tif/,
  );
});
