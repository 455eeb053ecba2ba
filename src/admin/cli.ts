/**
 * `bun run admin <command> [--json]`: operator commands against DATA_DIR. Safe while the server
 * runs: SQLite (WAL, busy timeout) serialises writes, roles and tiers are read fresh on every
 * request, and a new wiki's repository is renamed into place only once complete.
 * Every failure exits non-zero with a single line saying why.
 */
import { parseArgs } from "node:util";
import { ConfigError, readConfig } from "../config/config.ts";
import { loadSecrets } from "../config/keys.ts";
import { COMMITTER, openStores } from "../stores.ts";
import { WikiError } from "../wikis/wiki-service.ts";
import { AdminError, COMMANDS, type CommandContext, type CommandResult } from "./commands.ts";

const USAGE = `usage: bun run admin <command> [options] [--json]

commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(13)} ${command.usage}`)
  .join("\n")}

Configuration comes from the environment (DATA_DIR, PUBLIC_URL); see README.md.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined)
    throw new AdminError(`unknown command "${name}"; run with --help for the list`);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, json: { type: "boolean" }, help: { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new AdminError(
      `${(error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ")} (usage: ${name} ${command.usage})`,
    );
  }
  if (parsed.values.help === true) {
    console.log(`usage: bun run admin ${name} ${command.usage}`);
    return 0;
  }
  const config = readConfig(Bun.env);
  const json = parsed.values.json === true;
  if ("runWithConfig" in command)
    return printed(await command.runWithConfig(config, parsed.values), json);
  const stores = openStores(config.dataDir);
  loadSecrets(config.dataDir);
  const context: CommandContext = {
    ...stores,
    dataDir: config.dataDir,
    modelDir: config.modelDir,
    publicUrl: config.publicUrl,
    committer: COMMITTER,
  };
  try {
    return printed(await command.run(context, parsed.values), json);
  } finally {
    stores.db.close();
  }
}

function printed(result: CommandResult, json: boolean): number {
  console.log(json ? JSON.stringify(result.json) : result.text);
  return result.exitCode ?? 0;
}

try {
  process.exitCode = await main(Bun.argv.slice(2));
} catch (error) {
  if (error instanceof AdminError || error instanceof WikiError || error instanceof ConfigError) {
    console.error(`error: ${error.message}`);
  } else {
    console.error(
      `error: unexpected failure: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  process.exitCode = 1;
}
