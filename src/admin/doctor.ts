/**
 * `bun run admin doctor [--fsck]`: checks an install from the outside (issue 12) and prints one
 * line per problem, `<check>: <what is wrong and the fix>`, exiting 1 when there is any; a
 * healthy install prints one `ok:` line. It opens nothing through the server's code paths, so a
 * missing or damaged database or key is reported rather than created or migrated.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { WikiStore } from "../wikis/wiki-store.ts";
import type { ConfigOnlyCommand } from "./commands.ts";
import {
  type CheckName,
  checkConfig,
  checkDatabase,
  checkDisk,
  checkKeys,
  checkModel,
  checkVenv,
  messageOf,
  type Problem,
} from "./doctor-checks.ts";
import { checkProcesses, checkRepos } from "./doctor-wikis.ts";

export const doctor: ConfigOnlyCommand = {
  usage: "[--fsck]   (check config, keys, venv, model, disk, database, repos, processes)",
  options: { fsck: { type: "boolean" } },
  async runWithConfig(config, values) {
    const dataDir = resolve(config.dataDir);
    const fsck = values.fsck === true;
    const problems: Problem[] = [];
    const checked: CheckName[] = [];
    let slugs: string[] = [];
    const run = async (name: CheckName, check: () => Problem[] | Promise<Problem[]>) => {
      checked.push(name);
      try {
        problems.push(...(await check()));
      } catch (error) {
        problems.push({ check: name, message: `the check itself failed: ${messageOf(error)}` });
      }
    };
    await run("config", () => checkConfig(config, dataDir));
    await run("venv", () => checkVenv(resolve(config.venvDir)));
    await run("model", () => checkModel(resolve(config.modelDir)));
    // Without DATA_DIR, checkConfig said so once; every check below would only repeat it.
    if (existsSync(dataDir)) {
      await run("keys", () => checkKeys(dataDir, config.publicUrl));
      await run("disk", () => checkDisk(dataDir, config.diskWarnPercent));
      await run("database", () => {
        const { problems: found, db } = checkDatabase(dataDir);
        if (db !== null) {
          try {
            slugs = new WikiStore(db).list().map((wiki) => wiki.slug);
          } finally {
            db.close();
          }
        }
        return found;
      });
      await run("repos", () =>
        checkRepos(dataDir, slugs, {
          fsck,
          progress: (line) => process.stderr.write(`${line}\n`),
        }),
      );
      await run("processes", () => checkProcesses(dataDir));
    }
    const ok = problems.length === 0;
    return {
      text: ok
        ? `ok: ${checked.join(", ")} (${slugs.length} wiki repositories${fsck ? ", git fsck clean" : "; --fsck also runs git fsck"})`
        : problems.map((problem) => `${problem.check}: ${problem.message}`).join("\n"),
      json: { ok, fsck, checked, wikis: slugs.length, problems },
      exitCode: ok ? 0 : 1,
    };
  },
};
