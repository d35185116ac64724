/**
 * The `sr3` command: the `./sr3` launcher or `deno task sr3 <command>` from a checkout.
 * Each subcommand lives in its own file and only parses arguments and calls the library.
 * @module
 */
import { Command, CommanderError } from "../deps.ts";
import { SR3_VERSION } from "../kernels/version.ts";
import { removeLiveTemporariesSync } from "../data/files.ts";
import { EXIT } from "./common.ts";
import { infoCommand } from "./info.ts";
import { exportCommand } from "./export.ts";
import { degradeCommand } from "./degrade.ts";
import { metricsCommand } from "./metrics.ts";
import { trainCommand } from "./train.ts";
import { upscaleCommand } from "./upscale.ts";
import { mosaicCommand } from "./mosaic.ts";
import { evalCommand } from "./eval.ts";
import { summaryCommand } from "./summary.ts";
import { importTorchCommand } from "./import_torch.ts";
import { benchCommand } from "./bench.ts";

/** Builds the `sr3` program with every subcommand. */
export function buildProgram(): Command {
  const program = new Command("sr3")
    .description(
      "SR3 diffusion super-resolution for satellite and aerial imagery, on WebGPU.\n" +
        "Workflow: export chips → train → degrade a test scene → upscale → metrics / eval.",
    )
    .version(SR3_VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  const commands = [
    infoCommand,
    exportCommand,
    degradeCommand,
    trainCommand,
    upscaleCommand,
    mosaicCommand,
    evalCommand,
    metricsCommand,
    summaryCommand,
    importTorchCommand,
    benchCommand,
  ];
  for (const command of commands) {
    program.addCommand(command.exitOverride() as unknown as Command);
  }
  return program;
}

/**
 * The arguments to parse: an unknown command keeps only its name, so that `sr3 upscal --help` is the
 * usage error it is ("did you mean upscale?", exit 2) rather than the global help.
 */
export function argumentsToParse(program: Command, args: readonly string[]): string[] {
  const first = args[0];
  const known = program.commands.some((c) => c.name() === first || c.aliases().includes(first ?? ""));
  return first && !first.startsWith("-") && first !== "help" && !known ? [first] : [...args];
}

/** Exit codes after a signal (128 + its number, as shells report them). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Ctrl-C or SIGTERM during a command that writes through temporaries (upscale, export, degrade, …)
 * removes them before exiting. `sr3 train` handles its own signals (it finishes the step and checkpoints).
 */
export function removeTemporariesOnSignals(command: string | undefined): void {
  if (command === "train" || Deno.build.os === "windows") return;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      removeLiveTemporariesSync();
      Deno.exit(SIGNAL_EXIT[signal]);
    });
  }
}

/**
 * Mesa's Vulkan and EGL drivers print "error: XDG_RUNTIME_DIR is invalid or not set" on every start when
 * the variable is missing (headless machines, containers): give the process a private runtime folder
 * (mode 0700, as the XDG spec asks) before the adapter is requested, so success prints no "error" line.
 */
export function ensureRuntimeDir(): void {
  if (Deno.build.os === "windows") return;
  const current = Deno.env.get("XDG_RUNTIME_DIR");
  try {
    if (current && Deno.statSync(current).isDirectory) return;
  } catch {
    // set but missing: replace it
  }
  const dir = `/tmp/sr3-runtime-${Deno.uid() ?? "user"}`;
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) return;
  }
  Deno.env.set("XDG_RUNTIME_DIR", dir);
}

if (import.meta.main) {
  removeTemporariesOnSignals(Deno.args[0]);
  ensureRuntimeDir();
  try {
    const program = buildProgram();
    await program.parseAsync(argumentsToParse(program, Deno.args), { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0; every other commander error is a usage error.
      Deno.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
    }
    throw error;
  }
}
