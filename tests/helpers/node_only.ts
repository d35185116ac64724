/** The PATH of a machine that has Node.js but no Deno, for tests of the launcher and the README's commands. */

/** The directory of a command on PATH, or null. */
function commandDir(name: string): string | null {
  const { success, stdout } = new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "piped" })
    .outputSync();
  const path = new TextDecoder().decode(stdout).trim();
  return success && path ? path.slice(0, path.lastIndexOf("/")) : null;
}

const nodeDir = commandDir("node");
const npxDir = commandDir("npx");

/** Whether node and npx are installed (tests that need them are `ignore`d otherwise). */
export const hasNode: boolean = nodeDir !== null && npxDir !== null;

/**
 * A PATH of `first`, Node's directories and the system's: no deno on it unless the system has one (the
 * launcher never calls `deno` from PATH; npx fetches the pinned one).
 */
export function nodeOnlyPath(first: string): string {
  return [first, nodeDir, npxDir, "/usr/bin", "/bin"].join(":");
}
