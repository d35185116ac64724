/** Runs the `sr3` command in a child process, as a user would, for the CLI tests. */

const main = new URL("../../cli/main.ts", import.meta.url).pathname;
const config = new URL("../../deno.json", import.meta.url).pathname;

/** The Deno arguments that run `sr3` (append the command's own). */
export const SR3_ARGS: readonly string[] = ["run", "-A", "--config", config, main];

/** What a run of `sr3` gave. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sr3 <args>` in a child process. */
export async function sr3(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...SR3_ARGS, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", ...env },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/** The lines sr3 itself wrote to stderr (Mesa's EGL probe may add its own). */
export function ownLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith("sr3"));
}
