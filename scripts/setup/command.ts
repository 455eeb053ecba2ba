/**
 * Running a command to completion with its output captured: the set-up steps (apt-get, pip, npm)
 * show only the tail of a failure, and tests read what a CLI printed.
 */

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  cwd?: string;
  /** The child's whole environment (not merged); omitted: this process's. */
  env?: Record<string, string | undefined>;
}

export async function captureCommand(
  argv: string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const child = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}

/** Runs `argv`; on a non-zero exit throws with the command and the last 15 lines it printed. */
export async function runCommand(
  argv: string[],
  options: CommandOptions & { what?: string } = {},
): Promise<void> {
  const result = await captureCommand(argv, options);
  if (result.exitCode === 0) return;
  const tail = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-15).join("\n");
  throw new Error(
    `${options.what === undefined ? "" : `${options.what}: `}${argv.join(" ")} failed (exit ${result.exitCode}):\n${tail}`,
  );
}
