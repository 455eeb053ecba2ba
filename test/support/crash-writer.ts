/**
 * Child process for the crash-safety test: writes (and sometimes deletes) pages in a loop through
 * the real page store and prints `ack <json>` after each write returns. The parent kills it with
 * SIGKILL at random moments; only what was acknowledged must survive.
 */
import { openStores } from "../../src/stores.ts";

const [dataDir = "", slug = "", round = "0"] = Bun.argv.slice(2);
const { wikis, pages } = openStores(dataDir);
const wiki = wikis.findBySlug(slug);
if (wiki === null) throw new Error(`no wiki ${slug}`);
// Start-up (imports, opening the database) can take seconds on a loaded machine: the parent
// times its kill from here, so kills land among writes rather than all in start-up.
process.stdout.write("ready\n");
const who = {
  author: { name: "Crash Test", email: "crash@users.wikibot.invalid" },
  client: "crash-test",
};

for (let i = 0; ; i++) {
  const path = `Crash/Page ${i % 12}`;
  if (i % 9 === 8) {
    try {
      const deleted = await pages.delete(wiki, { ...who, path });
      process.stdout.write(
        `ack ${JSON.stringify({ op: "delete", path, revision: deleted.revision })}\n`,
      );
    } catch {
      // Not there (already deleted): nothing to acknowledge.
    }
    continue;
  }
  const content = `# Page ${i % 12}\n\nround ${round} write ${i}\n${"filler line\n".repeat(i % 50)}`;
  const result = await pages.write(wiki, { ...who, path, content });
  process.stdout.write(
    `ack ${JSON.stringify({ op: "write", path, revision: result.revision, content })}\n`,
  );
}
